"""One refresh across every tab of a browser, whatever wakes them."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Route

from tests.browser.support import (
    LOCK_TTL_MS, MINUTE, NO_SHARED_WORKER_SCRIPT, NO_WEB_LOCKS_SCRIPT, ServerLog, all_signed_in_with_one_token,
    hide_for_a_while, jump_wall_clock, poll, quiesce, set_visible, states, tab_state,
)

pytestmark = pytest.mark.browser

FALLBACK_LOCK_KEY = "authsite:lock:authsite:refresh"  # lock.js: STORAGE_PREFIX + "lock:" + REFRESH_LOCK_NAME


def test_five_tabs_expired_made_visible_at_once_refresh_once_and_share_the_token(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], open_tabs: Callable[..., list[Page]],
    server_log: ServerLog, server_sessions: Any,
) -> None:
    context = new_context()
    issued = sign_in(context)
    tabs = open_tabs(context, 5)
    before = tab_state(tabs[0])["token"]
    generation = server_sessions.generation(issued.session_id)
    hide_for_a_while(context, tabs)
    jump_wall_clock(context, tabs[0], 61 * MINUTE)  # the access token (60 min) has expired

    mark = server_log.mark()
    set_visible(tabs, True)
    token = poll(lambda: all_signed_in_with_one_token(tabs, not_token=before), message=lambda: str(server_log.since(mark)))
    quiesce(context, server_log)
    refreshes = server_log.http(mark, "/auth/refresh")
    assert [e.detail for e in refreshes] == ["200"], server_log.since(mark)
    assert server_sessions.generation(issued.session_id) == generation + 1
    assert all(s["token"] == token for s in states(tabs))


# Simulates a crash: the tab's own `pagehide` handlers never run (a crashed renderer runs nothing).
NO_PAGEHIDE_SCRIPT = "window.addEventListener('pagehide', (e) => e.stopImmediatePropagation(), true);"


@pytest.mark.parametrize(
    ("scripts", "how"),
    [((), "closed"), ((NO_WEB_LOCKS_SCRIPT,), "closed"), ((NO_WEB_LOCKS_SCRIPT, NO_PAGEHIDE_SCRIPT), "crashed")],
    ids=["web-locks-closed", "localstorage-lock-closed", "localstorage-lock-crashed"],
)
def test_a_tab_killed_while_holding_the_refresh_lock_does_not_block_the_others_past_the_lock_ttl(
    scripts: tuple[str, ...], how: str, new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any],
    open_tabs: Callable[..., list[Page]], server_log: ServerLog, server_sessions: Any,
) -> None:
    """Closed: the server had rotated, but the answer died with the tab (the browser never stored its
    cookies). The next tab must get in at once, inside the server's 10 s grace window, or its replay of
    the old refresh token counts as reuse and signs the user out. Crashed: the refresh never reached the
    server; a localStorage claim outlives its tab, for the TTL and no longer."""
    context = new_context(*scripts)
    issued = sign_in(context)
    holder, other = open_tabs(context, 2)
    before = tab_state(other)["token"]
    generation = server_sessions.generation(issued.session_id)
    held: list[int] = []

    def hold(route: Route) -> None:
        if how == "closed":
            jar = context.cookies()
            held.append(route.fetch().status)  # the server rotates; route.fetch stored the cookies:
            context.clear_cookies()  # put the old ones back, as if the answer never arrived
            context.add_cookies(jar)  # type: ignore[arg-type]
        else:
            held.append(0)  # never reaches the server, never answered

    holder.route("**/auth/refresh", hold)
    jump_wall_clock(context, holder, 58 * MINUTE)
    hide_for_a_while(context, [holder, other])
    mark = server_log.mark()
    set_visible([holder], True)
    poll(lambda: tab_state(holder) and held)  # the holder took the lock and is waiting on the server
    set_visible([other], True)
    context.clock.run_for(300)  # the other tab is waiting for the lock
    server_log.settle(quiet=0.3)
    rotated = [e.detail for e in server_log.http(mark, "/auth/refresh")]
    assert rotated == (["200"] if how == "closed" else []) and tab_state(other)["token"] == before

    claim = other.evaluate(f"() => JSON.parse(localStorage.getItem('{FALLBACK_LOCK_KEY}'))")
    assert (claim is None) == (NO_WEB_LOCKS_SCRIPT not in scripts)  # Web Locks keep nothing in storage
    holder.close(run_before_unload=False)
    killed = other.evaluate("performance.now()")
    if how == "crashed":
        # Its claim outlives it: the others wait until the claim's TTL ends, no longer.
        assert claim["expiresAt"] - other.evaluate("Date.now()") <= LOCK_TTL_MS
        context.clock.fast_forward(max(0, claim["expiresAt"] - other.evaluate("Date.now()") - 1_000))
        assert server_log.http(mark, "/auth/refresh") == [] and tab_state(other)["token"] == before
        context.clock.fast_forward(1_000)
    token = poll(lambda: all_signed_in_with_one_token([other], not_token=before), message=lambda: str(server_log.since(mark)))
    waited = other.evaluate("performance.now()") - killed
    assert waited <= (LOCK_TTL_MS if how == "crashed" else 2_000), f"the lock was free {waited} ms after its holder died"
    quiesce(context, server_log)
    assert [e.detail for e in server_log.http(mark, "/auth/refresh")] == ["200"] * (2 if how == "closed" else 1)
    row = server_sessions.row(issued.session_id)
    assert row.state == "active" and row.refresh_generation == generation + 1  # a grace replay, not reuse
    assert tab_state(other)["status"] == "signed-in" and token


@pytest.mark.parametrize(
    ("scripts", "mode", "sockets"),
    [((NO_WEB_LOCKS_SCRIPT,), "shared-worker", 1), ((NO_SHARED_WORKER_SCRIPT,), "page", 3)],
    ids=["no-web-locks", "no-shared-worker"],
)
def test_fallbacks_still_refresh_once_across_tabs(
    scripts: tuple[str, ...], mode: str, sockets: int, new_context: Callable[..., BrowserContext],
    sign_in: Callable[..., Any], open_tabs: Callable[..., list[Page]], server_log: ServerLog, server_sessions: Any,
) -> None:
    start = server_log.mark()
    context = new_context(*scripts)
    issued = sign_in(context)
    tabs = open_tabs(context, 3 if mode == "page" else 5)
    assert tabs[0].evaluate("typeof navigator.locks") == ("undefined" if NO_WEB_LOCKS_SCRIPT in scripts else "object")
    poll(lambda: all(s["hub"] == "connected" for s in states(tabs)), message=lambda: str(states(tabs)))
    assert {s["mode"] for s in states(tabs)} == {mode}
    server_log.settle()
    assert len(server_log.open_sockets() & {e.cid for e in server_log.ws(start)}) == sockets, server_log.since(start)

    before = tab_state(tabs[0])["token"]
    generation = server_sessions.generation(issued.session_id)
    hide_for_a_while(context, tabs)
    jump_wall_clock(context, tabs[0], 61 * MINUTE)
    mark = server_log.mark()
    set_visible(tabs, True)
    token = poll(lambda: all_signed_in_with_one_token(tabs, not_token=before), message=lambda: str(server_log.since(mark)))
    quiesce(context, server_log)
    assert [e.detail for e in server_log.http(mark, "/auth/refresh")] == ["200"], server_log.since(mark)
    assert server_sessions.generation(issued.session_id) == generation + 1
    assert all(s["token"] == token and s["hub"] == "connected" for s in states(tabs))


def test_switching_tabs_rapidly_never_signs_out_and_refreshes_once_per_window(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], open_tabs: Callable[..., list[Page]],
    server_log: ServerLog, server_sessions: Any,
) -> None:
    context = new_context()
    issued = sign_in(context)
    tabs = open_tabs(context, 5)
    before = tab_state(tabs[0])["token"]
    generation = server_sessions.generation(issued.session_id)
    hide_for_a_while(context, tabs)
    mark = server_log.mark()
    visible: Page | None = None
    # 40 switches over 80 minutes of wall time: the tokens fall due once, around the 54th minute.
    for step in range(40):
        tab = tabs[(step * 3) % 5]
        if visible is not None and visible is not tab:
            set_visible([visible], False)
        set_visible([tab], True)
        tab.evaluate("() => { window.dispatchEvent(new Event('focus')); }")
        visible = tab
        jump_wall_clock(context, tab, 2 * MINUTE)
        if step % 4 == 0:
            context.clock.run_for(400)
    token = poll(lambda: all_signed_in_with_one_token(tabs, not_token=before), message=lambda: str(server_log.since(mark)))
    quiesce(context, server_log)
    auth = [e for e in server_log.since(mark) if e.path.startswith("/auth/")]
    assert [e for e in auth if e.detail != "200"] == [], auth
    assert len(server_log.http(mark, "/auth/refresh")) == 1, auth
    assert server_log.http(mark, "/auth/logout") == []
    assert server_sessions.generation(issued.session_id) == generation + 1
    assert all(s["token"] == token for s in states(tabs))
