"""The hub connection outlives its access tokens: renewed in-band (RenewToken), once across tabs.

Runs against a second daphne whose access tokens live seconds, not an hour: the server
decides when a connection's token expires by its own clock, which no test can move, so
this is the one place where the pass waits in real time (about 2.5 token lifetimes).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.browser.conftest import CountingDaphne
from tests.browser.support import ServerLog, poll, states

pytestmark = pytest.mark.browser

ACCESS_TTL_S = 6
EXPIRING_BEFORE_S = 4  # the server warns (`tokenExpiring`) 2 s after a token was issued
ISSUING = ("/auth/token", "/auth/refresh")


@pytest.fixture(scope="module")
def short_tokens(server: CountingDaphne) -> Iterator[CountingDaphne]:
    site = CountingDaphne(
        DEBUG="1", AUTHSITE_ACCESS_TOKEN_TTL_SECONDS=str(ACCESS_TTL_S),
        AUTHSITE_HUB_TOKEN_EXPIRING_SECONDS=str(EXPIRING_BEFORE_S),
    )
    try:
        site.start()
        yield site
    finally:
        site.close()


def test_three_tabs_keep_one_connection_past_many_token_lifetimes_with_one_renewal_at_a_time(
    short_tokens: CountingDaphne, new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any],
    open_tabs: Callable[..., list[Page]],
) -> None:
    log = ServerLog(short_tokens.requests)
    start = log.mark()
    context = new_context(base_url=short_tokens.url)
    sign_in(context)
    tabs = open_tabs(context, 3)
    poll(lambda: all(s["hub"] == "connected" for s in states(tabs)), message=lambda: str(states(tabs)))
    [socket] = [e.cid for e in log.ws(start)]
    opened = time.monotonic()
    first_token = states(tabs)[0]["token"]

    # Two and a half token lifetimes: every token the connection started with has expired.
    while time.monotonic() - opened < 2.5 * ACCESS_TTL_S:
        assert log.ws(start, "WS-CLOSE") == [], log.since(start)
        poll(lambda: all(s["status"] == "signed-in" for s in states(tabs)), timeout=1)
        time.sleep(0.25)  # the server's clock decides expiry: real time has to pass

    events = log.since(start)
    assert [e.cid for e in log.ws(start)] == [socket], events  # never reconnected
    assert log.ws(start, "WS-CLOSE") == [] and socket in log.open_sockets()
    tokens = {s["token"] for s in states(tabs)}
    assert len(tokens) == 1 and first_token not in tokens
    # One renewal at a time for the three tabs: no two token-issuing calls together.
    issuing = [e for e in events if e.kind == "HTTP" and e.path in ISSUING and e.method == "POST"]
    assert all(e.detail == "200" for e in issuing), issuing
    renewals = [e for e in issuing if e.at_ms - opened_at(events, socket) > 0]
    assert len(renewals) >= 2, issuing
    gaps = [b.at_ms - a.at_ms for a, b in zip(renewals, renewals[1:])]
    assert min(gaps) >= 500, f"renewals {[(e.path, e.at_ms) for e in renewals]}"


def opened_at(events: list[Any], cid: str) -> int:
    return next(e.at_ms for e in events if e.kind == "WS-OPEN" and e.cid == cid)
