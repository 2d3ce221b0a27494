"""Pages players meet: why they were signed out, branded 404/500 with DEBUG off, no developer talk."""
from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path

from sessions_core.conf import SESSION_COOKIE
from sessions_core.models import AuthSession, RevokeReason
from sessions_core.services import session_create, session_revoke

pytestmark = pytest.mark.django_db(transaction=True)


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [path("boom", boom), path("", include("authsite.urls"))]


@pytest.mark.parametrize("flag, words", [
    ("admin", "You were signed out by an administrator."),
    ("elsewhere", "You were signed out from another device."),
    ("evicted", "you can be signed in on 5 devices at once"),
    ("expired", "Your session expired."),
    ("everywhere", "You signed out on all your devices."),
])
def test_the_sign_in_page_says_why_this_browser_was_signed_out(flag: str, words: str) -> None:
    page = Client().get("/", {"signed_out": flag}).content.decode()
    assert words in page and 'id="signed-out"' in page


@pytest.mark.parametrize("flag", ["", "bogus", "<script>alert(1)</script>", "__class__"])
def test_an_unknown_flag_says_nothing_and_is_never_echoed(flag: str) -> None:
    page = Client().get("/", {"signed_out": flag}).content.decode()
    assert 'id="signed-out"' not in page and "alert(1)" not in page


def test_the_landing_page_speaks_to_players_not_developers() -> None:
    page = Client().get("/").content.decode()
    assert "Guildhall" in page and "img/favicon.svg" in page and "img/logo.svg" in page
    assert "DISCORD_CLIENT_ID" not in page and "environment" not in page


def test_a_revoked_sessions_401_says_why(user) -> None:
    issued = session_create(user=user, ip="127.0.0.1", user_agent="pytest")
    session_revoke(session=AuthSession.objects.get(pk=issued.session_id), reason=RevokeReason.ADMIN)
    c = Client()
    c.cookies[SESSION_COOKIE] = issued.session_token
    resp = c.post("/auth/validate")
    assert resp.status_code == 401
    assert resp.json() == {"error": "session_revoked", "detail": resp.json()["detail"], "reason": "admin"}


@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_404_and_500_are_branded_with_a_way_back() -> None:
    c = Client(raise_request_exception=False)
    missing = c.get("/no/such/page")
    assert missing.status_code == 404
    body = missing.content.decode()
    assert "This page isn't here" in body and 'href="/"' in body and "Guildhall" in body
    broken = c.get("/boom")
    assert broken.status_code == 500
    body = broken.content.decode()
    assert "Something went wrong on our side" in body and 'href="/"' in body and "a bug" not in body


def test_the_session_list_part_lists_this_users_sessions_and_never_clears_cookies(user) -> None:
    issued = session_create(user=user, ip="127.0.0.1", user_agent="pytest")
    other = session_create(user=user, ip="198.51.100.4", user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1")
    c = Client()
    c.cookies[SESSION_COOKIE] = issued.session_token
    part = c.get("/app/sessions").content.decode()
    assert part.count("<li") == 2 and "Safari on iPhone" in part and "This device" in part and "<html" not in part
    assert f'data-end-session="{other.session_id}"' in part
    session_revoke(session=AuthSession.objects.get(pk=issued.session_id), reason=RevokeReason.ADMIN)
    gone = c.get("/app/sessions")
    assert gone.status_code == 401 and SESSION_COOKIE not in gone.cookies  # the page's sign-out says why
    assert Client().get("/app/sessions").status_code == 401
