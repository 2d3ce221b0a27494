"""Fixtures for the end-to-end tests in Debian's Chromium (sync Playwright, no pytest-playwright).

One daphne (DEBUG on: the built-in fake Discord and PlayFab) serves the whole
pass through ``tests/browser/asgi_counting.py``, on the pass's test database (a
file SQLite database: set ``TEST_DATABASE_NAME``) and one Redis key prefix that
this process shares, so a test can create sessions, revoke them or age them
server-side. Database access stays unblocked for the pass and rows are not
flushed between tests: each test has its own user, so nothing is shared.

Every browser context gets Playwright's clock (time flows until a test moves
it), controllable tab visibility, and its own storage, cookies and
SharedWorker.
"""
from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import settings as dj_settings
from django.test.utils import override_settings
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from sessions_core.conf import REFRESH_COOKIE, REFRESH_COOKIE_PATH, SESSION_COOKIE, SESSION_COOKIE_PATH
from tests.browser.support import VISIBILITY_SCRIPT, ServerLog, wait_ready
from tests.realtime.live import Daphne

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
USER_AGENT_NOTE = "authsite-browser-test"
T = TypeVar("T")


class DatabaseThread:
    """Runs ORM and store calls on one thread of their own.

    Sync Playwright keeps an asyncio loop running on the test's thread, where
    Django refuses synchronous database access; this thread has no loop.
    """

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="browser-db")

    def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.pool.submit(fn, *args, **kwargs).result(timeout=30)

    def close(self) -> None:
        from django.db import connections

        self.pool.submit(connections.close_all).result(timeout=30)
        self.pool.shutdown()


class CountingDaphne(Daphne):
    """The site behind the test-only counting wrapper; its log is ``self.requests``."""

    app = "tests.browser.asgi_counting:application"

    def __init__(self, **env: str) -> None:
        self.requests = Path(tempfile.mkstemp(prefix="authsite-requests-", suffix=".log")[1])
        super().__init__(AUTHSITE_TEST_REQUEST_LOG=str(self.requests), **env)

    def stop(self) -> None:
        """Stop the server; its open WebSockets are gone (the log says so: a stopped process cannot)."""
        was_running = self.proc is not None and self.proc.poll() is None
        pid = self.proc.pid if self.proc is not None else 0
        super().stop()
        if was_running:
            with self.requests.open("a") as log:
                log.write(f"{pid}:0 {int(time.time() * 1000)} SERVER-STOPPED -\n")

    def close(self) -> None:
        super().close()
        self.requests.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment: Any, django_db_blocker: Any) -> Iterator[None]:
    """Create the test database for the pass.

    pytest-django sets up only the databases that tests marked ``django_db``
    ask for; these tests reach the database through ``db_thread`` instead, so
    without this they would open the development database.
    """
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    yield
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=0)


@pytest.fixture(autouse=True)
def _isolated_auth() -> None:
    """Replaces the suite's per-test Redis prefix: the pass shares one with its daphne."""


@pytest.fixture(scope="session")
def db_thread(django_db_setup: Any, django_db_blocker: Any) -> Iterator[DatabaseThread]:
    """One Redis prefix and unblocked database access for the whole pass, used through one thread."""
    prefix = f"b{uuid.uuid4().hex[:10]}"
    conf = {**dj_settings.AUTHSITE, "REDIS_KEY_PREFIX": prefix}
    thread = DatabaseThread()
    with django_db_blocker.unblock(), override_settings(AUTHSITE=conf):
        from sessions_core.tokens import signing_keys

        signing_keys.reset_for_tests()
        thread(signing_keys.get_keyring)  # the signing key exists before daphne reads the ring
        yield thread
        signing_keys.reset_for_tests()
        thread.close()


@pytest.fixture(scope="session")
def server(db_thread: DatabaseThread) -> Iterator[CountingDaphne]:
    site = CountingDaphne(DEBUG="1", DISCORD_CLIENT_ID="", DISCORD_CLIENT_SECRET="")
    try:
        site.start()
        yield site
    finally:
        site.close()


@pytest.fixture
def server_log(server: CountingDaphne) -> ServerLog:
    return ServerLog(server.requests)


@pytest.fixture(scope="session")
def browser(server: CountingDaphne) -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is missing: run ./scripts/ensure_chromium.sh")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser: Browser, server: CountingDaphne) -> Iterator[Callable[..., BrowserContext]]:
    """Make a browser context (a browser profile): clock installed, visibility controllable.

    ``scripts`` are extra init scripts (e.g. removing SharedWorker) run in every page first;
    ``base_url`` another server of the pass (same host: the auth cookies apply to both).
    """
    made: list[BrowserContext] = []

    def make(*scripts: str, base_url: str | None = None) -> BrowserContext:
        context = browser.new_context(
            base_url=base_url or server.url, user_agent=f"Mozilla/5.0 (X11; Linux x86_64) Chrome/130 {USER_AGENT_NOTE}",
        )
        context.set_default_timeout(15_000)
        context.clock.install()
        context.add_init_script(VISIBILITY_SCRIPT)
        for script in scripts:
            context.add_init_script(script)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def make_user(db_thread: DatabaseThread) -> Callable[[], Any]:
    from sessions_core.models import User

    def make() -> Any:
        tag = uuid.uuid4().hex[:8]
        return db_thread(
            User.objects.create, username=f"u{tag}", discord_id=str(uuid.uuid4().int)[:18], discord_username=f"Tester {tag}",
        )

    return make


def session_cookies(base_url: str, tokens: Any) -> list[dict[str, Any]]:
    """The two auth cookies as the server sets them (HttpOnly, Secure, SameSite=Strict)."""
    host = base_url.split("://", 1)[1].split(":", 1)[0]
    common = {"domain": host, "httpOnly": True, "secure": True, "sameSite": "Strict"}
    return [
        {"name": SESSION_COOKIE, "value": tokens.session_token, "path": SESSION_COOKIE_PATH,
         "expires": tokens.session_token_exp, **common},
        {"name": REFRESH_COOKIE, "value": tokens.refresh_token, "path": REFRESH_COOKIE_PATH,
         "expires": tokens.refresh_exp, **common},
    ]


@pytest.fixture
def sign_in(
    server: CountingDaphne, make_user: Callable[[], Any], db_thread: DatabaseThread,
) -> Callable[[BrowserContext], Any]:
    """Give a context a fresh session of a new user, as a finished sign-in leaves it; returns the tokens."""
    from sessions_core.services import session_create

    def sign(context: BrowserContext, user: Any = None) -> Any:
        tokens = db_thread(session_create, user=user or make_user(), ip="127.0.0.1", user_agent=USER_AGENT_NOTE)
        context.add_cookies(session_cookies(server.url, tokens))  # type: ignore[arg-type]
        return tokens

    return sign


@pytest.fixture
def open_tabs() -> Callable[..., list[Page]]:
    """Open ``n`` app tabs in a context, one after another, each waited until started."""

    def open_(context: BrowserContext, n: int, path: str = "/app", expect: str = "signed-in") -> list[Page]:
        pages: list[Page] = []
        for _ in range(n):
            page = context.new_page()
            page.goto(path)
            status = wait_ready(page)
            assert status == expect, f"tab {len(pages)} started {status!r}"
            pages.append(page)
        return pages

    return open_


class ServerSessions:
    """Server-side truth about sessions (read and aged through the database thread)."""

    def __init__(self, db_thread: DatabaseThread) -> None:
        self.db = db_thread

    def row(self, sid: str) -> Any:
        from sessions_core.models import AuthSession

        return self.db(lambda: AuthSession.objects.get(pk=uuid.UUID(hex=sid)))

    def generation(self, sid: str) -> int:
        """How many times the session's refresh token was rotated."""
        return int(self.row(sid).refresh_generation)

    def end_of_life(self, sid: str) -> None:
        """Make the session as old as the 30-day cap: both expiries in the past, in SQL and Redis."""
        from datetime import timedelta

        from django.utils import timezone

        from sessions_core import store
        from sessions_core.models import AuthSession

        def age() -> None:
            past = timezone.now() - timedelta(seconds=1)
            AuthSession.objects.filter(pk=uuid.UUID(hex=sid)).update(
                created_at=past - timedelta(days=30), expires_at=past, absolute_expires_at=past,
            )
            row = AuthSession.objects.select_related("user").get(pk=uuid.UUID(hex=sid))
            store.put(store.record_for(row, row.user))

        self.db(age)


@pytest.fixture
def server_sessions(db_thread: DatabaseThread) -> ServerSessions:
    return ServerSessions(db_thread)
