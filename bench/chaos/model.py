"""A browser as the soak sees it: one cookie jar and one refresh lock shared by 1-5 tabs.

The scenario logic lives here and talks to the site only through a
:class:`Transport` (``post(path, ...) -> Reply``), so the same model runs over
plain HTTP (``http_transport.HttpxTransport``) or could drive real browser code
(a transport that evaluates ``fetch`` in a Playwright page, with the page's own
cookie jar) without changing a line of it.

The rules it follows are the browser code's (static/js/token-service.js, retry.js):
- expiry is judged from the lifetimes the server states, counted from when the
  answer arrived on the tab's own monotonic clock, never from ``exp``;
- one refresh attempt at a time per browser (the lock: a waiter gives up after
  ``LOCK_WAIT`` s and retries later; a claim lapses after ``LOCK_TTL`` s even if
  its holder hangs or is frozen); a tab that finds the jar already moved on
  takes that result;
- a transient failure (network error, timeout, 5xx, 429) is retried with capped,
  jittered back-off, each attempt under the lock with the refresh token the jar
  holds then, forever;
- only ``session_revoked``, ``session_expired`` and ``refresh_reused`` sign out.
"""
from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE

DEFINITIVE = {"session_revoked", "session_expired", "refresh_reused"}
# On /auth/refresh these end the session too (no refresh cookie; a token the server
# does not know): counted as logouts, so a server that answered them would show.
DEFINITIVE_ON_REFRESH = DEFINITIVE | {"not_authenticated", "refresh_invalid"}
BACKOFF = (0.5, 1, 2, 5, 10)  # seconds, then the last one again (static/js/retry.js, scaled down)
LOCK_WAIT = 8.0  # static/js/constants.js LOCK_WAIT_MS
LOCK_TTL = 10.0  # LOCK_TTL_MS


@dataclass
class Reply:
    """What came back: an HTTP status and JSON body, or ``error`` (a transport failure kind)."""

    status: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    set_cookies: dict[str, str | None] = field(default_factory=dict)  # None: deleted
    retry_after: float | None = None
    error: str = ""  # connect | reset | timeout | ... ("" when an HTTP answer arrived)

    @property
    def code(self) -> str:
        return str(self.body.get("error") or "")

    @property
    def ok(self) -> bool:
        return not self.error and 200 <= self.status < 300


class Transport(Protocol):
    async def post(self, path: str, *, cookies: dict[str, str], bearer: str | None = None) -> Reply: ...

    async def get(self, path: str, *, cookies: dict[str, str]) -> Reply: ...


@dataclass
class Stats:
    """Counters of one run, shared by every browser."""

    requests: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # by "<status> <code>" or transport error
    refresh_replies: int = 0
    rotations_seen: int = 0
    logouts: list[tuple[str, str, float]] = field(default_factory=list)  # (sid, reason, at)
    # (sid, sent_at) of every request a session's credential got accepted with.
    accepted: dict[str, float] = field(default_factory=dict)
    accepted_after: dict[str, list[float]] = field(default_factory=dict)

    def fail(self, reply: Reply) -> None:
        self.failures[reply.error or f"{reply.status} {reply.code or '-'}"] += 1


class TtlLock:
    """The cross-tab refresh lock as lock.js has it: a waiter gives up after ``wait``
    seconds (a transient ``lock_timeout``), and a claim lapses after ``LOCK_TTL`` even
    if its holder hangs or is frozen."""

    def __init__(self) -> None:
        self._owner: object | None = None
        self._until = 0.0
        self._changed = asyncio.Event()

    async def acquire(self, wait: float) -> object | None:
        deadline = time.monotonic() + wait
        while True:
            now = time.monotonic()
            if self._owner is None or now >= self._until:
                self._owner, self._until = object(), now + LOCK_TTL
                return self._owner
            if now >= deadline:
                return None
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(deadline, self._until) - now)
            except asyncio.TimeoutError:
                pass

    def release(self, owner: object) -> None:
        if self._owner is owner:
            self._owner = None
            self._changed.set()


class Tab:
    """One tab: its own monotonic clock (which chaos may jump forward) and suspension."""

    def __init__(self, browser: "Browser", n: int) -> None:
        self.browser = browser
        self.n = n
        self.offset = 0.0
        self.awake = asyncio.Event()
        self.awake.set()

    def now(self) -> float:
        return time.monotonic() + self.offset

    def jump(self, seconds: float) -> None:
        """The tab's clock leaps ahead (a laptop lid, a throttled timer firing late)."""
        self.offset += seconds

    async def suspend(self, seconds: float) -> None:
        """The tab is frozen: no script runs (a lock it holds stays held)."""
        self.awake.clear()
        await asyncio.sleep(seconds)
        self.awake.set()


class Browser:
    """A browser profile: cookies, the access token its tabs share, the refresh lock."""

    def __init__(self, name: str, transport: Transport, stats: Stats, revoked: dict[str, float]) -> None:
        self.name = name
        self.transport = transport
        self.stats = stats
        self.revoked = revoked  # sid -> when the soak revoked it (a logout it caused)
        self.jar: dict[str, str] = {}
        self.sid = ""
        self.access_token = ""
        # Monotonic deadlines (real clock at arrival + the stated lifetime).
        self.access_until = 0.0
        self.session_until = 0.0
        self.lock = TtlLock()
        self.tabs: list[Tab] = []
        self.signed_out: str = ""
        self.stop = asyncio.Event()  # the run is over: stop retrying
        self.last_ok = time.monotonic()

    # --- sign-in and the jar ----------------------------------------------------

    def signed_in(self, *, sid: str, session_token: str, refresh_token: str, access_token: str,
                  access_expires_in: float, session_expires_in: float) -> None:
        """A finished sign-in left these cookies and tokens (the soak creates sessions directly)."""
        self.jar.update({SESSION_COOKIE: session_token, REFRESH_COOKIE: refresh_token})
        self.sid, self.signed_out = sid, ""
        self.last_ok = time.monotonic()
        self._take(access_token, access_expires_in, session_expires_in)

    def _take(self, access_token: str, access_in: float, session_in: float) -> None:
        now = time.monotonic()
        self.access_token = access_token
        self.access_until = now + access_in
        self.session_until = now + session_in

    def _apply_cookies(self, reply: Reply) -> None:
        for name, value in reply.set_cookies.items():
            if value is None:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value

    async def csrf(self) -> None:
        while "csrftoken" not in self.jar:
            reply = await self.transport.get("/", cookies=self.jar)
            self._apply_cookies(reply)
            if "csrftoken" not in self.jar:
                self.stats.fail(reply)
                await asyncio.sleep(1)

    def sign_out(self, reason: str) -> None:
        if not self.signed_out:
            self.signed_out = reason
            self.stats.logouts.append((self.sid, reason, time.time()))

    # --- refresh ------------------------------------------------------------------

    def due(self, tab: Tab, margin: float) -> bool:
        """Does this tab think the tokens need renewing (from its own, possibly jumped, clock)?"""
        return tab.now() + margin >= min(self.access_until, self.session_until)

    async def refresh(self, tab: Tab, margin: float) -> None:
        """Renew: one attempt at a time under the lock, retried with back-off (outside the lock)
        with whatever refresh token the jar holds, until a definitive answer."""
        seen = self.jar.get(REFRESH_COOKIE)
        attempt = 0
        while not self.signed_out and not self.stop.is_set():
            await tab.awake.wait()
            owner = await self.lock.acquire(LOCK_WAIT)
            if owner is None:
                self.stats.failures["lock_timeout"] += 1  # transient, as lock.js's lock_timeout
                reply = Reply(error="lock_timeout")
            else:
                try:
                    if self.jar.get(REFRESH_COOKIE) != seen or not self.due(tab, margin):
                        return  # another tab refreshed meanwhile: take its result
                    presented = self.jar.get(REFRESH_COOKIE, "")
                    reply = await self.transport.post("/auth/refresh", cookies=self.jar)
                    self.stats.requests["refresh"] += 1
                    self._apply_cookies(reply)  # the network stack stores cookies even in a frozen tab
                    if reply.ok:
                        await tab.awake.wait()
                        self.last_ok = time.monotonic()
                        self.stats.refresh_replies += 1
                        if reply.set_cookies.get(REFRESH_COOKIE) not in (None, presented):
                            self.stats.rotations_seen += 1
                        self._take(reply.body["access_token"], reply.body["access_expires_in"],
                                   reply.body["session_token_expires_in"])
                        return
                finally:
                    if owner is not None:
                        self.lock.release(owner)
                self.stats.fail(reply)
                if self._definitive(reply, DEFINITIVE_ON_REFRESH):
                    return self.sign_out(reply.code)
            delay = BACKOFF[min(attempt, len(BACKOFF) - 1)] * random.uniform(0.8, 1.2)
            if reply.retry_after:
                delay = max(delay, min(reply.retry_after, 10) * random.uniform(1.0, 1.2))
            attempt += 1
            await asyncio.sleep(delay)

    @staticmethod
    def _definitive(reply: Reply, codes: set[str] = DEFINITIVE) -> bool:
        return not reply.error and reply.status == 401 and reply.code in codes

    # --- what a tab does ------------------------------------------------------------

    async def use(self, tab: Tab) -> None:
        """One authenticated call: a heartbeat with the session cookie, or a hub negotiate with the access token."""
        hub = random.random() < 0.3 and bool(self.access_token)
        sid, sent = self.sid, time.time()
        if hub:
            reply = await self.transport.post("/hub/negotiate?negotiateVersion=1", cookies={}, bearer=self.access_token)
        else:
            reply = await self.transport.post("/auth/activity", cookies=self.jar)
        self.stats.requests["hub" if hub else "activity"] += 1
        if reply.ok:
            self.last_ok = time.monotonic()
            if sid in self.revoked and sent > self.revoked[sid]:
                self.stats.accepted_after.setdefault(sid, []).append(sent - self.revoked[sid])
            return
        self.stats.fail(reply)
        if self._definitive(reply):
            return self.sign_out(reply.code)
        if not reply.error and reply.status == 401:
            # Expired or missing credential (token_expired, not_authenticated): renew now.
            self.access_until = self.session_until = 0.0

    async def run_tab(self, tab: Tab, stop: asyncio.Event, margin: float) -> None:
        while not stop.is_set() and not self.signed_out:
            await tab.awake.wait()
            if self.due(tab, margin):
                await self.refresh(tab, margin)
                tab.offset = 0.0  # a jumped clock fires the renewal early once, then counts from the new answer
            else:
                await self.use(tab)
            try:
                await asyncio.wait_for(stop.wait(), random.uniform(0.5, 2.0))
            except asyncio.TimeoutError:
                pass
