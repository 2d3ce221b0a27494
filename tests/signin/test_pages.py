"""The app page: signed in, lapsed session cookie (restore), session over (to /)."""
from __future__ import annotations

import time

import pytest
from django.test import Client

from sessions_core.tokens import signing_keys
from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from sessions_core.models import AuthSession, RevokeReason
from sessions_core.services import session_create, session_revoke
from sessions_core.tokens import make_session_token
from signin.pages import describe_device

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"


def test_app_page_lists_sessions_with_this_device(user) -> None:
    other = session_create(user=user, ip="203.0.113.9", user_agent=PHONE)
    mine = session_create(user=user, ip="127.0.0.1", user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
    c = Client()
    c.cookies[SESSION_COOKIE] = mine.session_token
    resp = c.get("/app")
    page = resp.content.decode()
    assert resp.status_code == 200 and resp["Cache-Control"] == "no-store" and "csrftoken" in resp.cookies
    assert "Alice" in page and "PF1" not in page  # the PlayFab id is never shown to players
    assert "Chrome on Android" in page and "Firefox on Linux" in page and "203.0.113.9" in page
    assert page.count("This device") == 1
    current = page.index(f'data-session-id="{mine.session_id}"')
    assert "This device" in page[current:page.index("</li>", current)]
    assert f'data-end-session="{other.session_id}"' in page
    assert 'name="viewport"' in page  # usable on a phone


def test_app_without_any_cookie_renders_the_restore_step(db) -> None:
    resp = Client().get("/app")
    page = resp.content.decode()
    assert resp.status_code == 200 and 'data-page="restore"' in page
    # No JS: straight to the sign-in page. With JS: /auth/validate decides (refresh cookie is Path=/auth/).
    assert '<noscript><meta http-equiv="refresh" content="0;url=/"></noscript>' in page
    assert "js/restore-page.js" in page and "csrftoken" in resp.cookies


def test_app_with_an_expired_session_token_gets_the_chance_to_refresh(user) -> None:
    issued = session_create(user=user, ip="127.0.0.1", user_agent="pytest")
    stale = make_session_token(signing_keys.get_keyring(), sid=issued.session_id, uid=user.pk, exp=int(time.time()) - 5, generation=0)
    c = Client()
    c.cookies[SESSION_COOKIE] = stale
    c.cookies[REFRESH_COOKIE] = issued.refresh_token
    resp = c.get("/app")
    assert resp.status_code == 200 and b'data-page="restore"' in resp.content
    # What the restore step's script does: the refresh cookie restores the session.
    assert c.post("/auth/validate").status_code == 200
    again = c.get("/app")
    assert b'data-page="app"' in again.content and b"Alice" in again.content


def test_app_with_a_revoked_session_goes_to_the_start_page(user) -> None:
    issued = session_create(user=user, ip="127.0.0.1", user_agent="pytest")
    session_revoke(session=AuthSession.objects.get(pk=issued.session_id), reason=RevokeReason.ADMIN)
    c = Client()
    c.cookies[SESSION_COOKIE] = issued.session_token
    resp = c.get("/app")
    assert resp.status_code == 302 and resp["Location"] == "/"
    assert resp.cookies[SESSION_COOKIE].value == "" and resp.cookies[REFRESH_COOKIE]["path"] == "/auth/"


def test_landing_offers_sign_in_and_sets_csrf(db) -> None:
    resp = Client().get("/")
    page = resp.content.decode()
    assert resp.status_code == 200 and "csrftoken" in resp.cookies
    assert 'href="/auth/discord/login?next=%2Fapp"' in page and "js/landing.js" in page


@pytest.mark.parametrize(
    "ua, expected",
    [(PHONE, "Chrome on Android"), ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit Version/17.0 Mobile Safari/604.1", "Safari on iPhone"),
     ("curl/8.5.0", "curl/8.5.0"), ("", "Unknown device")],
)
def test_describe_device(ua: str, expected: str) -> None:
    assert describe_device(ua) == expected
