"""The pages as players and admins see them, in Chromium, with screenshots.

Each page is captured at 1280x800 and 390x844 (and the app page in dark mode)
under ``.artifacts/screenshots/`` (``AUTHSITE_SCREENSHOTS`` overrides it);
``make test`` prints the folder. Every page must fit a 390 px phone without
sideways scrolling.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Error as PlaywrightError, Page

from tests.browser.support import poll, wait_ready

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("AUTHSITE_SCREENSHOTS") or ROOT / ".artifacts" / "screenshots")
SIZES = ((1280, 800), (390, 844))
CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
PHONE_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"


def shoot(page: Page, name: str, *, dark: bool = False) -> None:
    """Screenshots at both sizes; each size must fit without sideways scrolling."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    if dark:
        page.emulate_media(color_scheme="dark")
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(100)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px"
        page.screenshot(path=str(SHOTS / f"{name}{'-dark' if dark else ''}-{width}x{height}.png"), full_page=True)
    if dark:
        page.emulate_media(color_scheme="light")


def landing_message(page: Page) -> str:
    def there() -> bool:
        try:
            return bool(page.evaluate("() => location.pathname === '/' && !!document.getElementById('signed-out')"))
        except PlaywrightError:  # navigating: the old document is gone
            return False

    poll(there, timeout=10, message=lambda: page.url)
    return str(page.locator("#signed-out").inner_text())


def test_the_app_page_reads_as_a_product(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], make_user: Callable[[], Any],
    db_thread: Any,
) -> None:
    from sessions_core.services import session_create

    me = make_user()
    db_thread(session_create, user=me, ip="203.0.113.7", user_agent=PHONE_UA)
    context = new_context()
    sign_in(context, me)
    friend_context = new_context()
    buddy = make_user()
    friend = sign_in(friend_context, buddy)
    friend_page = friend_context.new_page()
    friend_page.goto("/app")
    assert wait_ready(friend_page) == "signed-in"

    page = context.new_page()
    page.goto("/app")
    assert wait_ready(page) == "signed-in"
    poll(lambda: page.locator("#conn-status").get_attribute("data-state") == "connected")
    online = page.locator("#online-users")
    poll(lambda: buddy.discord_username in online.inner_text(), message=lambda: online.inner_html())
    assert me.discord_username not in online.inner_text()  # not yourself
    assert online.locator("li").count() == online.locator("li .avatar").count() >= 1
    body = page.locator("main").inner_text()
    assert me.playfab_id not in body if me.playfab_id else "PlayFab" not in body
    assert "just now" in body and "0 minutes" not in body and "UTC" not in body
    assert "Chrome on Android" in body and "This device" in body
    favicon = page.evaluate("() => document.querySelector('link[rel=icon]').href")
    assert favicon.endswith("/static/img/favicon.svg")
    assert friend.session_id  # the friend stays online while the screenshots are taken
    shoot(page, "app")
    shoot(page, "app", dark=True)


def test_sign_out_everywhere_asks_first_and_the_sign_in_page_says_what_happened(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], server_sessions: Any,
) -> None:
    context = new_context()
    issued = sign_in(context)
    page = context.new_page()
    page.goto("/app")
    assert wait_ready(page) == "signed-in"
    page.locator("#logout-all").click()
    dialog = page.locator("#confirm-logout-all")
    assert dialog.is_visible() and "Every device" in dialog.inner_text()
    shoot(page, "confirm-sign-out-everywhere")
    dialog.get_by_role("button", name="Cancel").click()
    assert not dialog.is_visible()
    page.wait_for_timeout(300)
    assert server_sessions.row(issued.session_id).state == "active"  # cancelled: nothing happened

    page.locator("#logout-all").click()
    page.locator("#confirm-logout-all-yes").click()
    assert landing_message(page) == "You signed out on all your devices."
    assert server_sessions.row(issued.session_id).state == "revoked"


def test_an_admin_revoke_lands_on_the_sign_in_page_saying_so(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], db_thread: Any,
) -> None:
    from sessions_core.models import AuthSession, RevokeReason
    from sessions_core.services import session_revoke

    context = new_context()
    issued = sign_in(context)
    page = context.new_page()
    page.goto("/app")
    assert wait_ready(page) == "signed-in"
    poll(lambda: page.locator("#conn-status").get_attribute("data-state") == "connected")
    db_thread(lambda: session_revoke(session=AuthSession.objects.get(pk=uuid.UUID(hex=issued.session_id)),
                                     reason=RevokeReason.ADMIN))
    assert landing_message(page) == "You were signed out by an administrator."
    assert "signed_out=admin" in page.url
    shoot(page, "signed-out-by-admin")


def test_the_session_list_follows_other_devices_live(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], make_user: Callable[[], Any],
    db_thread: Any,
) -> None:
    from sessions_core.models import AuthSession, RevokeReason
    from sessions_core.services import session_create, session_revoke

    me = make_user()
    context = new_context()
    sign_in(context, me)
    page = context.new_page()
    page.goto("/app")
    assert wait_ready(page) == "signed-in"
    poll(lambda: page.locator("#conn-status").get_attribute("data-state") == "connected")
    rows = page.locator("#sessions li.session")
    assert rows.count() == 1
    phone = db_thread(session_create, user=me, ip="198.51.100.4", user_agent=PHONE_UA)
    poll(lambda: rows.count() == 2, timeout=5, message=lambda: page.locator("#sessions").inner_text())
    assert "Chrome on Android" in page.locator("#sessions").inner_text()
    db_thread(lambda: session_revoke(session=AuthSession.objects.get(pk=uuid.UUID(hex=phone.session_id)),
                                     reason=RevokeReason.ENDED_BY_USER))
    poll(lambda: rows.count() == 1, timeout=5, message=lambda: page.locator("#sessions").inner_text())


def test_the_landing_page(new_context: Callable[..., BrowserContext]) -> None:
    page = new_context().new_page()
    page.goto("/")
    assert page.locator("h1").inner_text() == "Welcome to Guildhall"
    assert "DISCORD_CLIENT_ID" not in page.content()
    shoot(page, "landing")
    shoot(page, "landing", dark=True)


def test_the_admin_session_list_fits_1280_and_1600(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any], db_thread: Any,
) -> None:
    from sessions_core.models import User

    name = f"staff{uuid.uuid4().hex[:6]}"
    db_thread(User.objects.create_superuser, name, f"{name}@example.com", "pw-for-the-test")
    from sessions_core.models import AuthSession, RevokeReason
    from sessions_core.services import session_create, session_revoke

    context = new_context()
    user = sign_in(context) and None
    for ua in (CHROME_LINUX, PHONE_UA):
        made = db_thread(session_create, user=db_thread(User.objects.get, username=name), ip="192.0.2.1", user_agent=ua)
    db_thread(lambda: session_revoke(session=AuthSession.objects.get(pk=uuid.UUID(hex=made.session_id)),
                                     reason=RevokeReason.ENDED_BY_USER))
    assert user is None
    page = context.new_page()
    page.goto("/admin/login/?next=/admin/sessions_core/authsession/")
    page.fill("#id_username", name)
    page.fill("#id_password", "pw-for-the-test")
    page.locator("input[type=submit]").click()
    page.wait_for_url("**/admin/sessions_core/authsession/**")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 1600):
        page.set_viewport_size({"width": width, "height": 800})
        page.wait_for_timeout(100)
        # Every column, Status included, is on screen: the list neither scrolls sideways nor leaves the window.
        hidden = page.evaluate("() => { const r = document.querySelector('.results'); return r.scrollWidth - r.clientWidth; }")
        assert hidden <= 0, f"{hidden} px of the session list scroll out of view at {width} px"
        right = page.evaluate("() => document.querySelector('#result_list').getBoundingClientRect().right")
        assert right <= width
        assert page.locator("#result_list th.column-status").is_visible()
        page.screenshot(path=str(SHOTS / f"admin-sessions-{width}x800.png"))
    table = page.locator("#result_list").inner_text()
    assert "Chrome on Linux" in table and "Chrome on Android" in table and "revoked: Ended by the user" in table


def test_an_outage_shows_a_banner_and_keeps_the_player_signed_in(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., Any],
) -> None:
    context = new_context()
    sign_in(context)
    page = context.new_page()
    page.goto("/app")
    assert wait_ready(page) == "signed-in"
    context.set_offline(True)
    page.evaluate("() => window.authsite.tokenService.checkSession({ force: true }).catch(() => {})")
    banner = page.locator("#outage")
    banner.wait_for(state="visible")
    assert "You're still signed in" in banner.inner_text()
    assert page.evaluate("() => window.authsite.tokenService.status") == "signed-in"
    shoot(page, "outage")
    assert banner.is_visible(), "a live hub connection must not hide an auth outage"
    context.set_offline(False)
    page.evaluate("() => window.authsite.tokenService.checkSession({ force: true }).catch(() => {})")
    banner.wait_for(state="hidden")


def test_the_404_page_with_debug_off(browser: Any, db_thread: Any) -> None:
    """A second server with DEBUG off: its 404 is the branded page with a way back."""
    from tests.realtime.live import Daphne

    import secrets

    site = Daphne(DEBUG="0", DISCORD_CLIENT_ID="", DISCORD_CLIENT_SECRET="", SECRET_KEY=secrets.token_urlsafe(50))
    try:
        site.start()
        context = browser.new_context(base_url=site.url)
        page = context.new_page()
        answer = page.goto("/no/such/page")
        assert answer is not None and answer.status == 404
        assert page.locator("h1").inner_text() == "This page isn't here"
        assert page.evaluate("() => getComputedStyle(document.querySelector('.button')).backgroundColor") == "rgb(88, 101, 242)"
        shoot(page, "not-found")
        page.get_by_role("link", name="Back to Guildhall").click()
        page.wait_for_url(f"{site.url}/")
        context.close()
    finally:
        site.close()
