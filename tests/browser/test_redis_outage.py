"""Redis stopped while three browsers are open on the site; one signs out meanwhile.

The other two stay signed in and working through the outage (sessions from SQL,
hub sockets kept); the signed-out one is out everywhere once Redis is back.

Time: the outage lasts a little over one server hub tick (15 s of real time, so
every open socket is re-checked with Redis away), and each page's clock is run
60 s through it (heartbeats, a visibility check): to the browsers it is a
60-second outage, to the server a tick with Redis down, which is what a longer
one repeats.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import BrowserContext, Error as PlaywrightError, Page

from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from tests.browser.conftest import CountingDaphne
from tests.browser.support import ServerLog, poll, set_visible, states
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.browser
HUB_TICK_S = 15  # HUB_PING_INTERVAL's default: the server re-checks each socket this often


@pytest.fixture
def outage_site(db_thread: Any) -> Iterator[tuple[CountingDaphne, RedisServer]]:
    """The site on a Redis of its own, which the test stops and starts."""
    redis = RedisServer().start()
    site = CountingDaphne(DEBUG="1", DISCORD_CLIENT_ID="", DISCORD_CLIENT_SECRET="", REDIS_URL=redis.url)
    try:
        site.start()
        yield site, redis
    finally:
        site.close()
        redis.close()


def readyz(site: CountingDaphne) -> dict[str, Any]:
    return dict(requests.get(f"{site.url}/readyz", timeout=5).json())


def on_sign_in_page(page: Page) -> bool:
    try:
        return bool(page.evaluate("() => location.pathname === '/' && document.body?.dataset.page === 'landing'"))
    except PlaywrightError:
        return False


def live_through(contexts: list[BrowserContext], ms: int) -> None:
    """Run the pages' clocks ``ms`` forward in 5-second steps, letting real time pass between
    them so that what the pages send meanwhile (heartbeats, hub probes) gets its answer."""
    for _ in range(ms // 5_000):
        for context in contexts:
            context.clock.run_for(5_000)
        time.sleep(0.25)


def replay(site: CountingDaphne, tokens: Any, path: str) -> requests.Response:
    """A request carrying a session's cookies as they were before it signed out."""
    landing = requests.get(f"{site.url}/", timeout=5)
    csrf = landing.cookies.get("csrftoken") or ""
    cookie = f"csrftoken={csrf}; {SESSION_COOKIE}={tokens.session_token}; {REFRESH_COOKIE}={tokens.refresh_token}"
    return requests.post(f"{site.url}{path}", headers={"Cookie": cookie, "X-CSRFToken": csrf}, timeout=5)


def test_redis_down_two_browsers_keep_working_the_one_that_signed_out_is_out_everywhere(
    outage_site: tuple[CountingDaphne, RedisServer], new_context: Callable[..., BrowserContext],
    sign_in: Callable[..., Any], make_user: Callable[[], Any], server_sessions: Any,
) -> None:
    site, redis = outage_site
    log = ServerLog(site.requests)
    user = make_user()
    contexts = [new_context(base_url=site.url) for _ in range(3)]
    issued = [sign_in(context, user) for context in contexts]
    tabs: list[Page] = []
    for context in contexts:
        page = context.new_page()
        page.goto("/app")
        tabs.append(page)
    poll(lambda: all(s["status"] == "signed-in" and s["hub"] == "connected" for s in states(tabs)), timeout=20,
         message=lambda: str(states(tabs)))
    stay, leave = [0, 2], 1
    sockets_before = log.open_sockets()
    assert len(sockets_before) == 3

    redis.stop()
    stopped = time.monotonic()
    poll(lambda: readyz(site)["degraded"], timeout=10)
    mark = log.mark()

    # One browser signs out while Redis is away.
    tabs[leave].locator("#logout").click()
    poll(lambda: on_sign_in_page(tabs[leave]), timeout=10)
    assert [e.detail for e in log.http(mark, "/auth/logout")] == ["200"], log.since(mark)
    assert server_sessions.row(issued[leave].session_id).state == "revoked"

    # The others live through a minute of page time: heartbeats, then a visibility check.
    live_through([contexts[i] for i in stay], 60_000)
    set_visible([tabs[i] for i in stay], False)
    for i in stay:
        contexts[i].clock.run_for(1_500)
    set_visible([tabs[i] for i in stay], True)
    poll(lambda: log.http(mark, "/auth/validate") or log.http(mark, "/auth/refresh"), timeout=10,
         message=lambda: str(log.since(mark)))
    # Past a server hub tick with Redis down: every socket of the two was re-checked from SQL.
    time.sleep(max(0.0, HUB_TICK_S + 1 - (time.monotonic() - stopped)))
    assert readyz(site)["degraded"] is True
    # Every call from the app pages answered 200 (the signed-out browser's landing page asks
    # too, with no cookie, and is told so: that 401 is not one of the two).
    answered = [e for e in log.since(mark) if e.kind == "HTTP" and e.path.startswith("/auth/") and e.referer == "/app"]
    assert answered and {e.detail for e in answered} == {"200"}, answered
    assert log.http(mark, "/auth/activity"), log.since(mark)
    for i in stay:
        s = states([tabs[i]])[0]
        assert s["status"] == "signed-in" and s["path"] == "/app" and s["hub"] == "connected", s
    still_open = log.open_sockets()
    assert len(still_open & sockets_before) == 2, log.since(mark)

    # Redis is back (empty: it keeps nothing on disk). SQL's revoke wins everywhere.
    redis.start()
    poll(lambda: not readyz(site)["degraded"], timeout=15)
    out = replay(site, issued[leave], "/auth/validate")
    assert out.status_code == 401 and out.json()["error"] == "session_revoked", out.text
    again = replay(site, issued[leave], "/auth/refresh")
    assert again.status_code == 401, again.text
    from sessions_core.store import keys

    assert redis.client().hget(keys.session(user.pk, issued[leave].session_id), "st") == b"r"

    # And the two keep working on Redis again: heartbeats and a check answer 200, the hub is connected.
    mark = log.mark()
    live_through([contexts[i] for i in stay], 60_000)
    poll(lambda: log.http(mark, "/auth/activity"), timeout=10, message=lambda: str(log.since(mark)))
    log.settle()
    answered = [e for e in log.since(mark) if e.kind == "HTTP" and e.path.startswith("/auth/")]
    assert answered and {e.detail for e in answered} == {"200"}, answered
    poll(lambda: all(s["status"] == "signed-in" and s["hub"] == "connected" for s in states([tabs[i] for i in stay])),
         timeout=10, message=lambda: str(states(tabs)))
    assert on_sign_in_page(tabs[leave])
