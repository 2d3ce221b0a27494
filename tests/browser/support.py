"""Helpers for the browser tests: what the server saw, and what each tab shows.

The server side is read from the log ``tests/browser/asgi_counting.py`` writes
(one line per HTTP response and per WebSocket open/close), so every assertion
about requests is about requests that reached the server, not what a page
believes it sent.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from playwright.sync_api import BrowserContext, Error as PlaywrightError, Page

T = TypeVar("T")
MINUTE = 60_000
HOUR = 60 * MINUTE
LOCK_TTL_MS = 10_000  # static/js/constants.js

# Lets a test hide and show tabs. Headless Chromium reports every page as
# visible, so the page-visibility state is overridden and `visibilitychange`
# dispatched exactly as the browser does when the user switches tabs.
VISIBILITY_SCRIPT = """
(() => {
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => hidden });
  window.__authsiteSetVisible = (visible) => {
    if (hidden === !visible) return;
    hidden = !visible;
    document.dispatchEvent(new Event("visibilitychange"));
    if (visible) window.dispatchEvent(new Event("focus"));
    else window.dispatchEvent(new Event("blur"));
  };
})();
"""

NO_SHARED_WORKER_SCRIPT = "delete window.SharedWorker;"
NO_WEB_LOCKS_SCRIPT = "Object.defineProperty(Navigator.prototype, 'locks', { configurable: true, get: () => undefined });"

# Everything a test asks a tab about, in one round trip.
TAB_STATE = """() => {
  const a = window.authsite;
  return {
    path: location.pathname,
    page: document.body ? document.body.dataset.page : null,
    ready: Boolean(a && a.tokenService),
    status: a && a.tokenService ? a.tokenService.status : null,
    token: a && a.tokenService ? a.tokenService.accessToken : null,
    hub: a && a.realtime ? a.realtime.state : null,
    mode: a && a.realtime ? a.realtime.mode : null,
    cookie: document.cookie,
  };
}"""


@dataclass(frozen=True)
class Event:
    """One line of the server's log."""

    cid: str
    at_ms: int  # the server's wall clock
    kind: str  # HTTP, WS-OPEN, WS-REFUSED, WS-CLOSE, SERVER-STOPPED (written by the test's Daphne)
    method: str
    path: str
    detail: str  # HTTP: status; WS-CLOSE: "<who> <code>"
    referer: str = "-"  # HTTP: the path of the page that asked

    @classmethod
    def parse(cls, line: str) -> "Event":
        cid, at, kind, *parts = line.split(" ")
        if kind == "HTTP":
            return cls(cid, int(at), kind, parts[0], parts[1], parts[2], parts[3])
        return cls(cid, int(at), kind, "", parts[0], " ".join(parts[1:]))


class ServerLog:
    """Reads the counting wrapper's log; ``since`` a mark taken when a test step began."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def events(self) -> list[Event]:
        text = self.path.read_text() if self.path.exists() else ""
        return [Event.parse(line) for line in text.splitlines() if line.strip()]

    def mark(self) -> int:
        return len(self.events())

    def since(self, mark: int) -> list[Event]:
        return self.events()[mark:]

    def http(self, mark: int, path: str, method: str = "POST") -> list[Event]:
        return [e for e in self.since(mark) if e.kind == "HTTP" and e.path == path and e.method == method]

    def ws(self, mark: int, kind: str = "WS-OPEN", path: str = "/hub") -> list[Event]:
        return [e for e in self.since(mark) if e.kind == kind and e.path == path]

    def open_sockets(self, path: str = "/hub") -> set[str]:
        """Connection ids of WebSockets accepted and not yet ended (over the whole log)."""
        live: set[str] = set()
        for e in self.events():
            if e.kind == "SERVER-STOPPED":
                live.clear()
            elif e.path != path:
                continue
            elif e.kind == "WS-OPEN":
                live.add(e.cid)
            elif e.kind == "WS-CLOSE":
                live.discard(e.cid)
        return live

    def settle(self, quiet: float = 0.6, timeout: float = 10.0) -> None:
        """Wait until no new line has arrived for ``quiet`` seconds (the tabs stopped talking)."""
        deadline = time.monotonic() + timeout
        seen = self.mark()
        calm_since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)  # polling a file another process writes
            now = self.mark()
            if now != seen:
                seen, calm_since = now, time.monotonic()
            elif time.monotonic() - calm_since >= quiet:
                return
        raise AssertionError(f"the server kept receiving requests for {timeout}s: {self.events()[-10:]}")


def quiesce(context: BrowserContext, log: ServerLog) -> None:
    """Let the tabs finish whatever they still had scheduled, then wait for the server to go quiet.

    Three seconds of page time cover every short wait the client makes before a follow-up
    call (a lock holder's result, a 401 re-check, the first retry), so an extra request
    that would come late still shows in the log before a test counts.
    """
    context.clock.run_for(3_000)
    log.settle()


def poll(fn: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.05, message: str | Callable[[], str] = "") -> T:
    """Call ``fn`` until it returns something truthy; fail with ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout}s: {detail} (last value: {value!r})")
        time.sleep(interval)  # waiting for another process (browser, server), not for a clock


def navigated(error: PlaywrightError) -> bool:
    """The error only says the page moved on to another document meanwhile."""
    return "context was destroyed" in str(error) or "navigat" in str(error)


def tab_state(page: Page) -> dict[str, Any]:
    """What the tab shows now; ``ready`` False while it is between two documents."""
    try:
        return page.evaluate(TAB_STATE)
    except PlaywrightError as e:
        if not navigated(e):
            raise
        return {"path": None, "page": None, "ready": False, "status": None, "token": None, "hub": None, "mode": None, "cookie": ""}


def states(pages: Iterable[Page]) -> list[dict[str, Any]]:
    return [tab_state(p) for p in pages]


def wait_ready(page: Page, timeout: float = 15.0) -> str:
    """Wait for the app page's start-up and return its status ("signed-in", ...).

    A page that navigates on its own meanwhile (the restore step reloads) is followed.
    """
    def status() -> str | None:
        if not tab_state(page)["ready"]:
            return None
        try:
            return str(page.evaluate("window.authsite.ready"))
        except PlaywrightError as e:
            if not navigated(e):
                raise
            return None

    return str(poll(status, timeout=timeout, message=lambda: str(tab_state(page))))


def set_visible(pages: Iterable[Page], visible: bool) -> None:
    """Hide or show tabs (see VISIBILITY_SCRIPT); each call returns at once.

    A tab that is navigating (signed out meanwhile, say) gets the new state in its next document.
    """
    for page in pages:
        try:
            page.evaluate("(v) => { window.__authsiteSetVisible(v); }", visible)
        except PlaywrightError as e:
            if not navigated(e):
                raise


def all_signed_in_with_one_token(pages: list[Page], not_token: str | None = None) -> str | None:
    """The access token every tab holds, when they are all signed in on /app with the same one."""
    seen = states(pages)
    tokens = {s["token"] for s in seen}
    ok = all(s["path"] == "/app" and s["status"] == "signed-in" for s in seen) and len(tokens) == 1
    token = tokens.pop() if ok else None
    return token if token and token != not_token else None


def jump_wall_clock(context: BrowserContext, page: Page, ms: int) -> None:
    """Move every tab's wall clock forward without firing a timer (tabs frozen in the background, a
    sleeping laptop). The monotonic clock (performance.now) stands still, as it may during sleep."""
    context.clock.set_system_time((page.evaluate("Date.now()") + ms) / 1000)  # Python takes seconds


def hide_for_a_while(context: BrowserContext, pages: list[Page]) -> None:
    """Hide tabs and let a little page time pass (longer than the 1 s visibility debounce)."""
    set_visible(pages, False)
    context.clock.run_for(1_500)
