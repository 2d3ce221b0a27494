"""Signing out: a logout reaches every tab at once; a session past its 30-day cap cannot come back."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Error as PlaywrightError, Page

from sessions_core.conf import SESSION_COOKIE
from tests.browser.support import NO_SHARED_WORKER_SCRIPT, ServerLog, poll, set_visible, states

pytestmark = pytest.mark.browser

DAY = 24 * 3_600_000
STORED = "() => Object.keys(localStorage).filter((k) => k.startsWith('authsite:'))"


def on_sign_in_page(page: Page) -> bool:
    try:
        return bool(page.evaluate("() => location.pathname === '/' && document.body?.dataset.page === 'landing'"))
    except PlaywrightError:  # navigating: the old document is gone
        return False


@pytest.mark.parametrize("hub", [True, False], ids=["hub-connected", "hub-unreachable"])
def test_logout_in_one_tab_sends_every_tab_to_sign_in_within_a_second_and_closes_the_connection(
    hub: bool, new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any],
    open_tabs: Callable[..., list[Page]], server_log: ServerLog, server_sessions: Any,
) -> None:
    """Two paths reach every tab: the logging-out tab's broadcast, and the hub's `sessionRevoked`
    (each tab then confirms with the server). Without the hub, the broadcast alone must do."""
    start = server_log.mark()
    if hub:
        context = new_context()
    else:
        # Playwright cannot intercept a SharedWorker's requests: the tabs run their own connections.
        context = new_context(NO_SHARED_WORKER_SCRIPT)
        context.route("**/hub/negotiate**", lambda route: route.abort("connectionrefused"))
    issued = sign_in(context)
    tabs = open_tabs(context, 5)
    expected = {"connected"} if hub else {"connecting", "reconnecting"}
    poll(lambda: all(s["hub"] in expected for s in states(tabs)), message=lambda: str(states(tabs)))
    sockets = server_log.open_sockets() & {e.cid for e in server_log.ws(start)}
    assert len(sockets) == (1 if hub else 0)

    mark = server_log.mark()
    tabs[2].locator("#logout").click()
    poll(lambda: all(on_sign_in_page(tab) for tab in tabs), timeout=5, interval=0.02)
    logouts = server_log.http(mark, "/auth/logout")
    assert [e.detail for e in logouts] == ["200"]
    # Timed by the server's clock (this process polling five tabs adds its own delays): every
    # tab asked for the sign-in page within a second of the logout's answer.
    landings = server_log.http(mark, "/", method="GET")
    assert len(landings) == len(tabs), server_log.since(mark)
    elapsed = max(e.at_ms for e in landings) - logouts[0].at_ms
    assert elapsed < 1000, f"the last tab asked for the sign-in page {elapsed} ms after the logout"
    poll(lambda: not (server_log.open_sockets() & sockets), timeout=2, message=lambda: str(server_log.since(mark)))
    assert server_sessions.row(issued.session_id).state == "revoked"
    for tab in tabs:
        assert tab.evaluate(STORED) == []
    assert not [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    server_log.settle()
    asked = [e for e in server_log.since(mark) if e.path in ("/auth/validate", "/auth/refresh")]
    assert all(e.detail == "401" and e.path == "/auth/validate" for e in asked), asked
    # Nobody comes back: each landing page asked once and stayed.
    assert len([e for e in asked if e.referer == "/"]) == len(tabs), asked
    assert server_log.ws(mark) == []
    if not hub:
        # The other tabs were told by the tab that logged out: none asked from the app page.
        assert [e for e in asked if e.referer != "/"] == [], asked


def test_a_session_past_its_thirty_day_cap_signs_every_tab_out(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], open_tabs: Callable[..., list[Page]],
    server_log: ServerLog, server_sessions: Any,
) -> None:
    start = server_log.mark()
    context = new_context()
    issued = sign_in(context)
    tabs = open_tabs(context, 2)
    poll(lambda: all(s["hub"] == "connected" for s in states(tabs)), message=lambda: str(states(tabs)))
    sockets = server_log.open_sockets() & {e.cid for e in server_log.ws(start)}

    # Thirty days on: the server's absolute cap has passed, and the browser dropped the
    # 60-minute session cookie long ago. The refresh cookie is still presented.
    mark = server_log.mark()
    server_sessions.end_of_life(issued.session_id)
    context.clear_cookies(name=SESSION_COOKIE)
    set_visible(tabs, False)
    context.clock.fast_forward(30 * DAY + 60_000)
    set_visible(tabs, True)
    poll(lambda: all(on_sign_in_page(tab) for tab in tabs), message=lambda: str(server_log.since(mark)))
    server_log.settle()
    answers = [(e.path, e.detail) for e in server_log.since(mark) if e.path in ("/auth/refresh", "/auth/validate")]
    assert answers and all(status == "401" for _, status in answers), answers
    assert not (server_log.open_sockets() & sockets)
    for tab in tabs:
        assert tab.evaluate(STORED) == []
    assert server_sessions.generation(issued.session_id) == 1  # only the first tab's start-up refresh
