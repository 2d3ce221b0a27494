"""The whole sign-in flow against the built-in fake Discord and PlayFab (DEBUG on)."""
from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.http import Http404
from django.test import Client, RequestFactory
from django.urls import Resolver404, resolve

from sessions_core.tokens import signing_keys
from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from sessions_core.models import AuthSession, User
from signin.fakes import discord
from signin.fakes import playfab
from signin.providers.config import DEV_DISCORD_CLIENT_ID, DEV_DISCORD_CLIENT_SECRET, DEV_PLAYFAB_SECRET_KEY
from signin.providers.playfab import open_ticket
from sessions_core.tokens import read_access_token
from tests.signin.conftest import form_fields, location_path

pytestmark = pytest.mark.django_db(transaction=True)


def _authorize_page(client: Client, next_path: str = "/app") -> tuple[Any, str]:
    resp = client.get("/auth/discord/login", {"next": next_path})
    assert resp.status_code == 302
    page = client.get(location_path(resp))
    assert page.status_code == 200, page.content
    return page, location_path(resp)


def _approve(client: Client, username: str = "tester", discord_id: str = "") -> str:
    page, url = _authorize_page(client)
    fields = {**form_fields(page.content.decode()), "username": username, "discord_id": discord_id, "action": "authorize"}
    back = client.post(urlsplit(url).path, fields)
    assert back.status_code == 302, back.content
    return location_path(back)


def test_sign_in_end_to_end(builtin_fakes: Client) -> None:
    c = builtin_fakes
    landing = c.get("/")
    assert landing.status_code == 200
    assert b"Sign in with Discord" in landing.content and "csrftoken" in landing.cookies

    start = c.get("/auth/discord/login", {"next": "/app"})
    assert start.status_code == 302
    target = urlsplit(start["Location"])
    # The fake is reached at the origin this request came in on, never a fixed address.
    assert f"{target.scheme}://{target.netloc}" == f"http://{c.defaults['HTTP_HOST']}"
    assert target.path == "/_dev/discord/oauth2/authorize"
    q = parse_qs(target.query)
    assert q["code_challenge_method"] == ["S256"] and len(q["code_challenge"][0]) == 43
    assert q["redirect_uri"] == [f"http://{c.defaults['HTTP_HOST']}/auth/discord/callback"]
    binding = start.cookies["as_oauth"]
    assert binding["httponly"] and binding["samesite"] == "Lax" and binding["path"] == "/auth/discord/"

    form = c.get(location_path(start))
    assert b'name="username"' in form.content
    fields = {**form_fields(form.content.decode()), "username": "Tester", "action": "authorize"}
    back = c.post(target.path, fields)
    assert back.status_code == 302
    assert back["Location"].startswith(f"http://{c.defaults['HTTP_HOST']}/auth/discord/callback?")
    assert parse_qs(urlsplit(back["Location"]).query)["state"] == q["state"]

    done = c.get(location_path(back))
    assert done.status_code == 200, done.content
    assert done["Cache-Control"] == "no-store" and done["Referrer-Policy"] == "no-referrer"
    for name in (SESSION_COOKIE, REFRESH_COOKIE):
        morsel = done.cookies[name]
        assert morsel.value and morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["secure"]
    assert done.cookies[REFRESH_COOKIE]["path"] == "/auth/"
    html = done.content.decode()
    payload = json.loads(re.search(r'<script id="authsite-signin" type="application/json">(.*?)</script>', html).group(1))
    claims = read_access_token(signing_keys.get_keyring(), payload["access_token"])
    assert payload["access_expires_in"] > 0 and payload["user"]["display_name"] == "tester"
    # The landing page goes on to `next` itself (same-site), with a no-JS fallback.
    assert 'content="3;url=/app"' in html and 'href="/app"' in html
    assert json.loads(re.search(r'id="authsite-next" type="application/json">(.*?)</script>', html).group(1)) == "/app"

    user = User.objects.get()
    assert user.discord_username == "tester" and user.discord_id == discord.fake_discord_id("Tester")
    assert user.playfab_id == playfab.fake_playfab_id(user.discord_id) and not user.has_usable_password()
    row = AuthSession.objects.get()
    assert claims.sid == row.id.hex and claims.sub == user.pk
    sealed = open_ticket(row.playfab_ticket_enc)
    assert sealed is not None and sealed.ticket.startswith(user.playfab_id)
    assert sealed.ticket not in html  # the ticket never reaches the browser
    assert row.playfab_ticket_expires_at is not None

    app = c.get("/app")
    assert app.status_code == 200
    page = app.content.decode()
    assert 'data-page="app"' in page and "tester" in page and user.playfab_id not in page  # never shown to players
    assert "This device" in page and f'data-end-session="{row.id.hex}"' in page
    for needed in ('id="conn-status"', 'id="online-users"', 'id="logout"', 'id="logout-all"', "js/app.js"):
        assert needed in page


def test_same_name_signs_into_the_same_account(builtin_fakes: Client) -> None:
    for _ in range(2):
        assert builtin_fakes.get(_approve(builtin_fakes, "repeat")).status_code == 200
    assert User.objects.count() == 1 and AuthSession.objects.count() == 2


def test_cancel_on_the_consent_page_creates_nothing(builtin_fakes: Client) -> None:
    page, url = _authorize_page(builtin_fakes)
    back = builtin_fakes.post(urlsplit(url).path, {**form_fields(page.content.decode()), "action": "cancel"})
    assert parse_qs(urlsplit(back["Location"]).query)["error"] == ["access_denied"]
    resp = builtin_fakes.get(location_path(back))
    assert resp.status_code == 403
    assert b"discord_denied" in resp.content and b"Try again" in resp.content
    assert SESSION_COOKIE not in resp.cookies and User.objects.count() == 0 and AuthSession.objects.count() == 0


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"client_id": "someone-else"}, "unknown client_id"),
        ({"redirect_uri": "https://evil.example/auth/discord/callback"}, "redirect_uri is not registered"),
        ({"code_challenge_method": "plain"}, "S256 code_challenge"),
        ({"code_challenge": ""}, "S256 code_challenge"),
    ],
)
def test_fake_authorize_refuses_what_discord_refuses(builtin_fakes: Client, change: dict[str, str], problem: str) -> None:
    _, url = _authorize_page(builtin_fakes)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | change
    resp = builtin_fakes.get(parts.path, query)
    assert resp.status_code == 400 and problem in resp.content.decode()
    posted = builtin_fakes.post(parts.path, {**query, "username": "x1", "action": "authorize"})
    assert posted.status_code == 400 and "Location" not in posted  # never a redirect to an unchecked URI


def _code(client: Client, verifier: str) -> str:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = f"http://{client.defaults['HTTP_HOST']}/auth/discord/callback"
    params = {"response_type": "code", "client_id": DEV_DISCORD_CLIENT_ID, "redirect_uri": redirect, "scope": "identify",
              "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"}
    back = client.post("/_dev/discord/oauth2/authorize?" + urlencode(params), {**params, "username": "pkce", "action": "authorize"})
    return parse_qs(urlsplit(back["Location"]).query)["code"][0]


def _exchange(client: Client, code: str, verifier: str, secret: str = DEV_DISCORD_CLIENT_SECRET) -> Any:
    auth = base64.b64encode(f"{DEV_DISCORD_CLIENT_ID}:{secret}".encode()).decode()
    redirect = f"http://{client.defaults['HTTP_HOST']}/auth/discord/callback"
    return client.post(
        "/_dev/discord/api/oauth2/token",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "code_verifier": verifier},
        HTTP_AUTHORIZATION=f"Basic {auth}",
    )


def test_fake_token_endpoint_checks_client_pkce_and_single_use(builtin_fakes: Client) -> None:
    c, verifier = builtin_fakes, "v" * 50
    code = _code(c, verifier)
    assert _exchange(c, code, verifier, secret="wrong").status_code == 401
    wrong = _exchange(c, code, "w" * 50)
    assert wrong.status_code == 400 and wrong.json() == {"error": "invalid_grant"}
    # A code presented with a wrong verifier is spent, as RFC 6749 section 4.1.2 wants.
    assert _exchange(c, code, verifier).json()["error"] == "invalid_grant"
    fresh = _code(c, verifier)
    ok = _exchange(c, fresh, verifier)
    assert ok.status_code == 200 and ok.json()["token_type"] == "Bearer"
    assert _exchange(c, fresh, verifier).json()["error"] == "invalid_grant"  # single use
    me = c.get("/_dev/discord/api/users/@me", HTTP_AUTHORIZATION=f"Bearer {ok.json()['access_token']}")
    assert me.status_code == 200 and me.json()["username"] == "pkce"
    assert c.get("/_dev/discord/api/users/@me", HTTP_AUTHORIZATION="Bearer nope").status_code == 401


def test_fake_playfab_checks_the_secret_key(builtin_fakes: Client) -> None:
    url = "/_dev/playfab/Server/LoginWithServerCustomId"
    body = json.dumps({"ServerCustomId": "123", "CreateAccount": True})
    bad = builtin_fakes.post(url, body, content_type="application/json", HTTP_X_SECRETKEY="nope")
    assert bad.status_code == 401 and bad.json()["errorCode"] == 1074
    ok = builtin_fakes.post(url, body, content_type="application/json", HTTP_X_SECRETKEY=DEV_PLAYFAB_SECRET_KEY)
    assert ok.status_code == 200 and ok.json()["data"]["PlayFabId"] == playfab.fake_playfab_id("123")
    assert ok.json()["data"]["NewlyCreated"] is True
    again = builtin_fakes.post(url, body, content_type="application/json", HTTP_X_SECRETKEY=DEV_PLAYFAB_SECRET_KEY)
    assert again.json()["data"]["NewlyCreated"] is False


DEV_PATHS = [
    "/_dev/discord/oauth2/authorize",
    "/_dev/discord/api/oauth2/token",
    "/_dev/discord/api/users/@me",
    "/_dev/playfab/Server/LoginWithServerCustomId",
]


@pytest.mark.parametrize(
    "debug, client_id, explicit", [(False, "", None), (False, "", True), (False, "real-id", None), (True, "real-id", None)]
)
def test_fakes_are_not_mounted_unless_debug_without_credentials(
    settings: Any, debug: bool, client_id: str, explicit: bool | None
) -> None:
    settings.DEBUG = debug
    settings.AUTHSITE = {**settings.AUTHSITE, "DISCORD_CLIENT_ID": client_id, "FAKE_PROVIDERS": explicit}
    c = Client()
    for path in DEV_PATHS:
        with pytest.raises(Resolver404):
            resolve(path)  # not routed at all, not merely refused
        assert c.get(path).status_code == 404, path
        assert c.post(path).status_code == 404, path
    # The views refuse by themselves too, should anything ever route to them.
    for view in (discord.authorize, discord.token, discord.users_me, playfab.login_with_server_custom_id):
        with pytest.raises(Http404):
            view(RequestFactory().get("/"))


def test_fakes_are_routed_with_debug_on(builtin_fakes: Client) -> None:
    for path in DEV_PATHS:
        assert resolve(path).url_name.startswith("dev-")


def test_landing_says_which_providers_are_used(builtin_fakes: Client, settings: Any) -> None:
    assert b"Development mode: sign-in uses a stand-in for Discord" in builtin_fakes.get("/").content
    settings.DEBUG = False
    assert b"Development mode" not in Client().get("/").content


def test_refresh_renews_the_ticket_at_the_fake_playfab(builtin_fakes: Client) -> None:
    from datetime import timedelta

    from django.utils import timezone

    c = builtin_fakes
    assert c.get(_approve(c, "renewer")).status_code == 200
    row = AuthSession.objects.get()
    before = open_ticket(row.playfab_ticket_enc)
    AuthSession.objects.filter(pk=row.pk).update(playfab_ticket_expires_at=timezone.now() + timedelta(minutes=5))
    assert c.post("/auth/refresh").status_code == 200
    row.refresh_from_db()
    after = open_ticket(row.playfab_ticket_enc)
    assert before is not None and after is not None
    # Renewed over HTTP at the origin the sign-in came in on.
    assert after.ticket != before.ticket and after.origin == before.origin == f"http://{c.defaults['HTTP_HOST']}"
    assert row.playfab_ticket_expires_at - timezone.now() > timedelta(hours=23)
