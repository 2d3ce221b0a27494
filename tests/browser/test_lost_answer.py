"""A refresh answer lost on the network, then 30 s offline: still signed in everywhere.

The tabs talk to the site through a TCP proxy (``bench/chaos/proxy.py``) that
forwards the refresh request, lets the server rotate, and swallows the answer.
The browser keeps its old tokens, goes offline for 30 s (past the server's 10 s
grace window), and comes back: its retry with the old refresh token is answered
with the identical successor, because nothing of the successor was ever used.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Route

from bench.chaos.proxy import ProxyThread, lose_next_answer, offline, pass_all
from tests.browser.support import (
    MINUTE, NO_WEB_LOCKS_SCRIPT, ServerLog, all_signed_in_with_one_token, hide_for_a_while, jump_wall_clock, poll,
    quiesce, set_visible, states, tab_state, wait_ready,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def proxy(server: Any) -> Iterator[ProxyThread]:
    p = ProxyThread([server.port])
    yield p
    p.close()


def _move_server_clock(db_thread: Any, sid: str, seconds: int) -> None:
    """The server lives ``seconds`` on: its last rotation moves that far into the past (SQL and Redis)."""
    from sessions_core.models import AuthSession
    from sessions_core.store import keys
    from sessions_core.store.client import get_redis

    def age() -> None:
        row = AuthSession.objects.get(pk=uuid.UUID(hex=sid))
        when = row.refresh_rotated_at - timedelta(seconds=seconds)
        AuthSession.objects.filter(pk=row.pk).update(refresh_rotated_at=when)
        get_redis().hset(keys.session(row.user_id, sid), "rot", int(when.timestamp() * 1000))

    db_thread(age)


def _events(db_thread: Any, sid: str) -> list[tuple[str, str]]:
    from sessions_core.models import SessionEvent

    return db_thread(lambda: list(SessionEvent.objects.filter(session_id=uuid.UUID(hex=sid)).values_list("kind", "cause")))


@pytest.mark.parametrize("web_locks", [True, False], ids=["web-locks", "fallback-lock"])
def test_refresh_answer_lost_then_thirty_seconds_offline_stays_signed_in_on_one_successor(
    web_locks: bool, proxy: ProxyThread, new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any],
    open_tabs: Callable[..., list[Page]], server_log: ServerLog, server_sessions: Any, db_thread: Any,
) -> None:
    context = new_context(*([] if web_locks else [NO_WEB_LOCKS_SCRIPT]), base_url=proxy.url)
    issued = sign_in(context)
    tabs = open_tabs(context, 3)
    before = tab_state(tabs[0])["token"]
    generation = server_sessions.generation(issued.session_id)

    # The answer is lost, and the network goes with it (the proxy drops everything
    # after it), so no retry lands inside the grace window.
    policy, lost = lose_next_answer("POST", "/auth/refresh", then=offline)
    proxy.set_policy(policy)
    jump_wall_clock(context, tabs[0], 58 * MINUTE)
    hide_for_a_while(context, tabs)
    mark = server_log.mark()
    set_visible(tabs, True)
    poll(lambda: lost and server_sessions.generation(issued.session_id) == generation + 1,
         message=lambda: str(server_log.since(mark)))
    context.set_offline(True)

    # Offline for 30 s, in page time and in server time (past the 10 s grace window).
    for _ in range(6):
        context.clock.run_for(5_000)
    _move_server_clock(db_thread, issued.session_id, 30)
    assert all(s["status"] == "signed-in" and s["path"] == "/app" for s in states(tabs)), states(tabs)
    assert server_sessions.generation(issued.session_id) == generation + 1

    proxy.set_policy(pass_all)
    context.set_offline(False)

    def recovered() -> str | None:
        context.clock.run_for(1_000)  # page time for a pending back-off, if the online event did not do it
        return all_signed_in_with_one_token(tabs, not_token=before)

    poll(recovered, timeout=30, message=lambda: f"{states(tabs)} {server_log.since(mark)}")
    quiesce(context, server_log)
    refreshes = [e.detail for e in server_log.http(mark, "/auth/refresh")]
    assert refreshes and set(refreshes) == {"200"}, server_log.since(mark)  # the lost one was a 200 too
    row = server_sessions.row(issued.session_id)
    assert row.state == "active" and row.refresh_generation == generation + 1  # one successor, in use
    causes = [cause for kind, cause in _events(db_thread, issued.session_id)]
    assert causes.count("lost_answer_recovered") >= 1 and "replay_outside_window" not in causes, causes
    assert not [e for e in server_log.since(mark) if e.path.startswith("/auth/") and e.detail.startswith("4")]
    for tab in tabs:
        tab.reload()
        assert wait_ready(tab) == "signed-in"
    assert server_sessions.row(issued.session_id).refresh_generation_in_use == generation + 1


FALLBACK_LOCK_KEY = "authsite:lock:authsite:refresh"  # lock.js: STORAGE_PREFIX + "lock:" + REFRESH_LOCK_NAME
# A crash: the tab's own `pagehide` handlers never run (a crashed renderer runs nothing).
NO_PAGEHIDE_SCRIPT = "window.addEventListener('pagehide', (e) => e.stopImmediatePropagation(), true);"


def test_a_tab_crashing_on_the_fallback_lock_after_the_server_rotated_leaves_the_others_signed_in(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], open_tabs: Callable[..., list[Page]],
    server_log: ServerLog, server_sessions: Any, db_thread: Any,
) -> None:
    """Without Web Locks the claim of a crashed tab outlives it for the lock's 10 s TTL; the
    next tab then replays the old refresh token just past the server's 10 s grace window."""
    context = new_context(NO_WEB_LOCKS_SCRIPT, NO_PAGEHIDE_SCRIPT)
    issued = sign_in(context)
    holder, other = open_tabs(context, 2)
    before = tab_state(other)["token"]
    generation = server_sessions.generation(issued.session_id)
    held: list[int] = []

    def rotate_then_crash(route: Route) -> None:
        jar = context.cookies()
        held.append(route.fetch().status)  # the server rotates; the answer dies with the tab
        context.clear_cookies()
        context.add_cookies(jar)  # type: ignore[arg-type]

    holder.route("**/auth/refresh", rotate_then_crash)
    jump_wall_clock(context, holder, 58 * MINUTE)
    hide_for_a_while(context, [holder, other])
    mark = server_log.mark()
    set_visible([holder], True)
    poll(lambda: tab_state(holder) and held)
    set_visible([other], True)
    context.clock.run_for(300)
    claim = other.evaluate(f"() => JSON.parse(localStorage.getItem('{FALLBACK_LOCK_KEY}'))")
    assert claim is not None and held == [200]
    holder.close(run_before_unload=False)
    # The others wait out the claim's TTL; the server's clock moves on as far, and a little more.
    _move_server_clock(db_thread, issued.session_id, 11)
    context.clock.fast_forward(max(0, claim["expiresAt"] - other.evaluate("Date.now()")) + 500)
    poll(lambda: all_signed_in_with_one_token([other], not_token=before), message=lambda: str(server_log.since(mark)))
    quiesce(context, server_log)
    assert [e.detail for e in server_log.http(mark, "/auth/refresh")] == ["200", "200"], server_log.since(mark)
    row = server_sessions.row(issued.session_id)
    assert row.state == "active" and row.refresh_generation == generation + 1
    assert ("refresh_reuse", "lost_answer_recovered") in _events(db_thread, issued.session_id)
