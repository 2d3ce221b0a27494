"""One hub connection per browser, kept across tab closes, server restarts and reloads."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.browser.support import (
    MINUTE, ServerLog, all_signed_in_with_one_token, jump_wall_clock, poll, quiesce, states, tab_state, wait_ready,
)

pytestmark = pytest.mark.browser

ONLINE_USERS = "async () => JSON.stringify(await window.authsite.realtime.invoke('GetOnlineUsers'))"


def all_connected(pages: list[Page]) -> bool:
    return all(s["hub"] == "connected" for s in states(pages))


def test_five_tabs_share_one_hub_websocket_that_outlives_the_tab_that_opened_it(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], open_tabs: Callable[..., list[Page]],
    server_log: ServerLog,
) -> None:
    mark = server_log.mark()
    context = new_context()
    sign_in(context)
    tabs = open_tabs(context, 5)
    poll(lambda: all_connected(tabs), message=lambda: str(states(tabs)))
    server_log.settle()
    opened = server_log.ws(mark)
    assert len(opened) == 1, server_log.since(mark)
    assert len(server_log.http(mark, "/hub/negotiate")) == 1
    assert all(s["mode"] == "shared-worker" for s in states(tabs))
    socket = opened[0].cid

    # The first tab opened it; close that tab. The connection stays for the other four.
    closed_at = server_log.mark()
    tabs[0].close()
    rest = tabs[1:]
    for tab in rest:
        assert "userId" in tab.evaluate(ONLINE_USERS)  # a hub round trip through the shared connection
    server_log.settle()
    assert server_log.ws(closed_at, "WS-CLOSE") == [] and server_log.ws(closed_at) == [], server_log.since(closed_at)
    assert server_log.open_sockets() >= {socket}
    assert all_connected(rest)


def test_server_restart_with_tabs_open_reconnects_and_stays_signed_in(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], open_tabs: Callable[..., list[Page]],
    server_log: ServerLog, server: Any,
) -> None:
    context = new_context()
    sign_in(context)
    tabs = open_tabs(context, 3)
    poll(lambda: all_connected(tabs), message=lambda: str(states(tabs)))
    token = tab_state(tabs[0])["token"]
    mark = server_log.mark()
    server.restart()
    assert not server_log.open_sockets()
    # The worker retries with back-off on the pages' clock: let that time pass at once.
    context.clock.fast_forward(15_000)
    poll(lambda: all_connected(tabs), timeout=15, message=lambda: f"{states(tabs)}\n{server_log.since(mark)}")
    server_log.settle()
    assert len(server_log.ws(mark)) == 1, server_log.since(mark)
    assert all_signed_in_with_one_token(tabs) == token  # nobody signed out or had to refresh
    assert not [e for e in server_log.since(mark) if e.path.startswith("/auth/") and e.detail != "200"]
    assert "userId" in tabs[2].evaluate(ONLINE_USERS)


def test_reloading_every_tab_at_once_keeps_one_connection_and_refreshes_at_most_once(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], open_tabs: Callable[..., list[Page]],
    server_log: ServerLog, server_sessions: Any,
) -> None:
    start = server_log.mark()
    context = new_context()
    issued = sign_in(context)
    tabs = open_tabs(context, 5)
    poll(lambda: all_connected(tabs), message=lambda: str(states(tabs)))
    token = tab_state(tabs[0])["token"]

    def sockets_open() -> set[str]:
        """This browser's hub sockets the server holds open now."""
        return server_log.open_sockets() & {e.cid for e in server_log.ws(start)}

    # A deploy: every tab reloads at the same moment. The shared token is still good: nobody refreshes.
    mark = server_log.mark()
    for tab in tabs:
        tab.evaluate("() => { location.reload(); }")
    for tab in tabs:
        tab.wait_for_load_state()
        assert wait_ready(tab) == "signed-in"
    poll(lambda: all_connected(tabs), message=lambda: str(states(tabs)))
    quiesce(context, server_log)
    assert server_log.http(mark, "/auth/refresh") == []
    assert all_signed_in_with_one_token(tabs) == token
    assert len(sockets_open()) == 1, server_log.since(start)

    # The same with the token due: one refresh, under the lock, for all five.
    generation = server_sessions.generation(issued.session_id)
    jump_wall_clock(context, tabs[0], 58 * MINUTE)
    mark = server_log.mark()
    for tab in tabs:
        tab.evaluate("() => { location.reload(); }")
    for tab in tabs:
        tab.wait_for_load_state()
        assert wait_ready(tab) == "signed-in"
    new = poll(lambda: all_signed_in_with_one_token(tabs, not_token=token), message=lambda: str(server_log.since(mark)))
    quiesce(context, server_log)
    assert len(server_log.http(mark, "/auth/refresh")) == 1, server_log.since(mark)
    assert server_sessions.generation(issued.session_id) == generation + 1
    assert all(s["token"] == new for s in states(tabs))
    poll(lambda: all_connected(tabs), message=lambda: str(states(tabs)))
    assert len(sockets_open()) == 1, server_log.since(start)
