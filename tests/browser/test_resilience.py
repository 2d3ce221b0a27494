"""The seed's failure scenarios: background tabs, sleep, suspended timers, network cuts."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Route

from sessions_core.conf import SESSION_COOKIE
from tests.browser.support import (
    HOUR, MINUTE, ServerLog, all_signed_in_with_one_token, hide_for_a_while, jump_wall_clock, poll, quiesce,
    set_visible, states, tab_state, wait_ready,
)

pytestmark = pytest.mark.browser



def connected(pages: list[Page]) -> bool:
    return all(s["hub"] == "connected" for s in states(pages))


def retries(page: Page) -> tuple[int, bool]:
    """The tab's failed attempts in a row, and whether a back-off retry is pending."""
    return tuple(page.evaluate("() => { const r = window.authsite.tokenService.retry; return [r.attempt, r.pending]; }"))


def backed_off(pages: list[Page]) -> bool:
    """Some tab is retrying, and every retrying tab's next attempt is at least 24 s (30 s - 20%) away."""
    seen = [retries(p) for p in pages]
    return any(pending for _, pending in seen) and all(attempt >= 5 for attempt, pending in seen if pending)


def test_tab_hidden_for_two_hours_comes_back_signed_in_after_one_refresh(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], open_tabs: Callable[..., list[Page]],
    server_log: ServerLog, server_sessions: Any,
) -> None:
    context = new_context()
    issued = sign_in(context)
    [tab] = open_tabs(context, 1)
    poll(lambda: connected([tab]))
    before = tab_state(tab)["token"]
    generation = server_sessions.generation(issued.session_id)

    # Hidden for two hours: throttled timers fire late, once; the browser dropped the
    # 60-minute session cookie meanwhile (the refresh cookie lives on).
    set_visible([tab], False)
    context.clear_cookies(name=SESSION_COOKIE)
    mark = server_log.mark()
    context.clock.fast_forward(2 * HOUR + MINUTE)
    set_visible([tab], True)
    poll(lambda: all_signed_in_with_one_token([tab], not_token=before), message=lambda: str(server_log.since(mark)))
    poll(lambda: connected([tab]), message=lambda: str(states([tab])))
    quiesce(context, server_log)
    assert server_sessions.generation(issued.session_id) == generation + 1, server_log.since(mark)
    assert [e.detail for e in server_log.http(mark, "/auth/refresh")] == ["200"], server_log.since(mark)
    assert not [e for e in server_log.since(mark) if e.path.startswith("/auth/") and e.detail != "200"]
    # The new session cookie is in place: a reload is an ordinary signed-in page load.
    tab.reload()
    assert wait_ready(tab) == "signed-in" and tab_state(tab)["page"] == "app"


def test_laptop_sleep_overnight_wakes_signed_in_with_one_refresh(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], open_tabs: Callable[..., list[Page]],
    server_log: ServerLog, server_sessions: Any,
) -> None:
    context = new_context()
    issued = sign_in(context)
    tabs = open_tabs(context, 3)
    poll(lambda: connected(tabs))
    before = tab_state(tabs[0])["token"]
    generation = server_sessions.generation(issued.session_id)

    # Ten hours asleep: no timer ran and the clock jumped; the session cookie (60 min) is
    # gone from the browser; the refresh token (30 days) is not.
    jump_wall_clock(context, tabs[0], 10 * HOUR)
    context.clear_cookies(name=SESSION_COOKIE)
    mark = server_log.mark()
    # Waking: the user reloads one tab first (only the refresh cookie is left: the restore
    # step), then the others' pending timers fire and the heartbeat notices the gap.
    tabs[0].reload()
    assert wait_ready(tabs[0]) == "signed-in"
    context.clock.fast_forward(61_000)
    token = poll(lambda: all_signed_in_with_one_token(tabs, not_token=before), message=lambda: str(server_log.since(mark)))
    poll(lambda: connected(tabs), timeout=15, message=lambda: str(states(tabs)))
    quiesce(context, server_log)
    assert server_sessions.generation(issued.session_id) == generation + 1, server_log.since(mark)
    assert not [e for e in server_log.since(mark) if e.path.startswith("/auth/") and e.detail != "200"]
    assert all(s["token"] == token for s in states(tabs))
    # The reloaded tab went through the restore step: /app first served the restore page
    # (no session cookie), which renewed the session and loaded /app again.
    assert len(server_log.http(mark, "/app", method="GET")) == 2, server_log.since(mark)


def test_heartbeat_suspension_checks_the_session_at_once(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], open_tabs: Callable[..., list[Page]],
    server_log: ServerLog,
) -> None:
    context = new_context()
    sign_in(context)
    tabs = open_tabs(context, 3)
    server_log.settle()
    # One ordinary beat (60 s) in every tab: activity is posted once for the browser, and
    # the session is not re-checked.
    mark = server_log.mark()
    context.clock.run_for(60_000)
    poll(lambda: server_log.http(mark, "/auth/activity"), message=lambda: str(server_log.since(mark)))
    quiesce(context, server_log)
    assert [e.detail for e in server_log.http(mark, "/auth/activity")] == ["200"], server_log.since(mark)
    assert server_log.http(mark, "/auth/validate") == [] and server_log.http(mark, "/auth/refresh") == []

    # Timers paused for 130 s (over 2x the interval), then the next beat fires: check now.
    mark = server_log.mark()
    context.clock.fast_forward(130_000)
    poll(lambda: server_log.http(mark, "/auth/validate"), timeout=3, message=lambda: str(server_log.since(mark)))
    quiesce(context, server_log)
    validated = [e.detail for e in server_log.http(mark, "/auth/validate")]  # each tab checks for itself
    assert 1 <= len(validated) <= len(tabs) and set(validated) == {"200"}, server_log.since(mark)
    assert server_log.http(mark, "/auth/refresh") == []
    assert all(s["status"] == "signed-in" for s in states(tabs))


def test_network_cut_before_a_refresh_then_back_online_stays_signed_in(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], open_tabs: Callable[..., list[Page]],
    server_log: ServerLog, server_sessions: Any,
) -> None:
    context = new_context()
    issued = sign_in(context)
    tabs = open_tabs(context, 2)
    before = tab_state(tabs[0])["token"]
    generation = server_sessions.generation(issued.session_id)

    context.set_offline(True)
    jump_wall_clock(context, tabs[0], 58 * MINUTE)
    hide_for_a_while(context, tabs)
    mark = server_log.mark()
    set_visible(tabs, True)
    # The refresh fails on the network: the tab says so and stays signed in.
    tabs[0].locator("#outage", has_text="still signed in").wait_for()  # the outage banner
    assert all(s["status"] == "signed-in" and s["path"] == "/app" for s in states(tabs))
    assert server_log.http(mark, "/auth/refresh") == []

    # Let the retries back off (1, 2, 5, 10, 30 s...) until the next is at least 24 s away, so
    # that a refresh within a few seconds of reconnecting is the `online` event's doing.
    for _ in range(12):
        if backed_off(tabs):
            break
        context.clock.fast_forward(61_000)
        poll(lambda: all(pending or attempt == 0 for attempt, pending in map(retries, tabs)), timeout=3)
    assert backed_off(tabs), [retries(t) for t in tabs]
    assert server_log.http(mark, "/auth/refresh") == []
    context.set_offline(False)
    online = time.monotonic()
    poll(lambda: all_signed_in_with_one_token(tabs, not_token=before), message=lambda: str(server_log.since(mark)))
    assert time.monotonic() - online < 5
    quiesce(context, server_log)
    assert [e.detail for e in server_log.http(mark, "/auth/refresh")] == ["200"]
    assert server_sessions.generation(issued.session_id) == generation + 1


def test_network_cut_while_the_refresh_answer_is_on_its_way_stays_signed_in(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], open_tabs: Callable[..., list[Page]],
    server_log: ServerLog, server_sessions: Any,
) -> None:
    context = new_context()
    issued = sign_in(context)
    tabs = open_tabs(context, 2)
    before = tab_state(tabs[0])["token"]
    generation = server_sessions.generation(issued.session_id)
    lost: list[int] = []

    def cut_after_server_answered(route: Route) -> None:
        if lost:
            route.continue_()
            return
        jar = context.cookies()
        response = route.fetch()  # the server rotated the refresh token...
        lost.append(response.status)
        context.set_offline(True)  # ...and the answer never arrives,
        # nor its Set-Cookie (route.fetch shares the context's cookie jar: put the old one back).
        context.clear_cookies()
        context.add_cookies(jar)  # type: ignore[arg-type]
        route.abort("internetdisconnected")

    context.route("**/auth/refresh", cut_after_server_answered)
    jump_wall_clock(context, tabs[0], 58 * MINUTE)
    hide_for_a_while(context, tabs)
    mark = server_log.mark()
    set_visible(tabs, True)
    # Route handlers run while this thread is inside a Playwright call: ask the tab while waiting.
    poll(lambda: tab_state(tabs[0]) and lost, message=lambda: str(server_log.since(mark)))
    assert lost == [200] and server_sessions.generation(issued.session_id) == generation + 1
    tabs[0].locator("#outage", has_text="still signed in").wait_for()  # the outage banner

    context.set_offline(False)  # back within the grace window: the replay gets the same answer
    poll(lambda: all_signed_in_with_one_token(tabs, not_token=before), message=lambda: str(server_log.since(mark)))
    quiesce(context, server_log)
    assert [e.detail for e in server_log.http(mark, "/auth/refresh")] == ["200", "200"], server_log.since(mark)
    row = server_sessions.row(issued.session_id)
    assert row.state == "active" and row.refresh_generation == generation + 1
    for tab in tabs:
        tab.reload()
        assert wait_ready(tab) == "signed-in"


def test_refresh_answered_503_then_200_stays_signed_in_with_one_refresh(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], open_tabs: Callable[..., list[Page]],
    server_log: ServerLog, server_sessions: Any,
) -> None:
    context = new_context()
    issued = sign_in(context)
    tabs = open_tabs(context, 2)
    before = tab_state(tabs[0])["token"]
    generation = server_sessions.generation(issued.session_id)
    refused: list[str] = []

    def unavailable_three_times(route: Route) -> None:
        # The session store is down: the server's own 503 (retry after 2 s), three times.
        if len(refused) < 3:
            refused.append(route.request.url)
            route.fulfill(
                status=503, headers={"Retry-After": "2"}, content_type="application/json",
                body='{"error": "store_unavailable", "detail": "The session store is unavailable."}',
            )
        else:
            route.continue_()

    context.route("**/auth/refresh", unavailable_three_times)
    jump_wall_clock(context, tabs[0], 58 * MINUTE)
    hide_for_a_while(context, tabs)
    mark = server_log.mark()
    set_visible(tabs, True)
    tabs[0].locator("#outage", has_text="still signed in").wait_for()  # the outage banner

    def recovered() -> str | None:
        context.clock.run_for(1_000)  # page time for the back-off (Retry-After: 2 s)
        return all_signed_in_with_one_token(tabs, not_token=before)

    poll(recovered, timeout=20, message=lambda: f"{len(refused)} refused; {states(tabs)}")
    quiesce(context, server_log)
    assert len(refused) == 3
    assert [e.detail for e in server_log.http(mark, "/auth/refresh")] == ["200"], server_log.since(mark)
    assert server_sessions.generation(issued.session_id) == generation + 1
    assert all(s["path"] == "/app" and s["status"] == "signed-in" for s in states(tabs))
