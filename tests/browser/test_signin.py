"""Sign-in through the real pages (built-in fake Discord), and what JavaScript can read afterwards."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from tests.browser.support import ServerLog, all_signed_in_with_one_token, poll, states, tab_state, wait_ready

pytestmark = pytest.mark.browser

READ_STORAGE = "() => JSON.stringify(Object.fromEntries(Object.entries(localStorage)))"


def sign_in_with_fake_discord(page: Page, username: str) -> None:
    page.goto("/")
    page.get_by_role("link", name="Sign in with Discord").click()
    page.wait_for_url("**/_dev/discord/oauth2/authorize?**")
    page.get_by_label("Username").fill(username)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url("**/app")


def auth_cookies(context: BrowserContext) -> dict[str, dict[str, Any]]:
    return {c["name"]: dict(c) for c in context.cookies() if c["name"] in (SESSION_COOKIE, REFRESH_COOKIE)}


def test_sign_in_with_fake_discord_then_tabs_stay_in_step(
    new_context: Callable[..., BrowserContext], open_tabs: Callable[..., list[Page]], server_log: ServerLog,
    sign_in: Callable[..., Any],
) -> None:
    start = server_log.mark()
    context = new_context()
    waiting = context.new_page()  # a second tab, left on the sign-in page
    waiting.goto("/")
    assert waiting.evaluate("window.authsite.ready") is False
    first = context.new_page()
    username = f"e2e_{uuid.uuid4().hex[:8]}"
    sign_in_with_fake_discord(first, username)
    assert wait_ready(first) == "signed-in"
    assert first.locator("#user-name").inner_text() == username
    # The waiting tab heard of the sign-in and moved to the app on its own.
    waiting.wait_for_url("**/app")
    assert wait_ready(waiting) == "signed-in"

    # Secure cookies over plain-HTTP loopback: Chromium kept them, HttpOnly, SameSite=Strict, scoped paths.
    cookies = auth_cookies(context)
    assert set(cookies) == {SESSION_COOKIE, REFRESH_COOKIE}, context.cookies()
    for cookie in cookies.values():
        assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict", cookie
    assert cookies[SESSION_COOKIE]["path"] == "/" and cookies[REFRESH_COOKIE]["path"] == "/auth/"

    tabs = [first, waiting, *open_tabs(context, 1)]
    # The sign-in answer was shared: the other tabs validated, nobody rotated the refresh token.
    assert server_log.http(start, "/auth/refresh") == []
    token = tab_state(first)["token"]
    assert token and all(s["token"] == token and s["status"] == "signed-in" for s in states(tabs))
    poll(lambda: all(s["hub"] == "connected" for s in states(tabs)), message=lambda: str(states(tabs)))
    # Connection state and who is online, live: every tab has loaded the list, without this user
    # ("Online now" is everyone else)...
    for tab in tabs:
        assert tab.locator("#conn-status").get_attribute("data-state") == "connected"
        tab.locator("#online-users:not([data-loading])").wait_for(state="attached")
        assert username not in tab.locator("#online-users").inner_text()
    assert len(server_log.ws(start)) == 1, server_log.since(start)  # one hub connection for the three tabs
    # ...and someone signing in elsewhere appears on every tab without a reload.
    elsewhere = new_context()
    other = sign_in(elsewhere)
    open_tabs(elsewhere, 1)
    for tab in tabs:
        tab.locator(f'#online-users li[data-user-id="{other.user_id}"]').wait_for()


def test_document_cookie_and_storage_never_hold_the_session_or_refresh_token(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], open_tabs: Callable[..., list[Page]],
    server_log: ServerLog,
) -> None:
    context = new_context()
    sign_in(context)
    tabs = open_tabs(context, 2)

    def secrets_now() -> list[str]:
        return [c["value"] for c in auth_cookies(context).values()]

    def check(pages: list[Page]) -> None:
        values = secrets_now()
        assert len(values) == 2
        for page in pages:
            cookie = page.evaluate("document.cookie")
            storage = page.evaluate(READ_STORAGE)
            assert "csrftoken=" in cookie  # the readable cookie is there; the auth ones are not
            assert SESSION_COOKIE not in cookie and REFRESH_COOKIE not in cookie, cookie
            for value in values:
                assert value not in cookie and value not in storage

    check(tabs)
    # After a scheduled refresh (new cookies), and on the landing page.
    mark = server_log.mark()
    before = tab_state(tabs[0])["token"]
    context.clock.fast_forward(56 * 60_000)
    poll(lambda: all_signed_in_with_one_token(tabs, not_token=before), message=lambda: str(server_log.since(mark)))
    assert len(server_log.http(mark, "/auth/refresh")) == 1
    check(tabs)
    tabs[1].goto("/")
    tabs[1].wait_for_url("**/app")  # the landing page sends a signed-in browser on
    assert wait_ready(tabs[1]) == "signed-in"
    check(tabs)
