"""Discord and PlayFab misbehaving (loopback fake server): clear pages, nothing created."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from sessions_core.models import AuthSession, User
from signin.providers.playfab import open_ticket
from tests.signin.conftest import loopback_authorize
from tests.support.fake_providers_server import CLIENT_ID, CLIENT_SECRET, SECRET_KEY, FakeProviders, Reply, playfab_error

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = 1.5  # past the tests' PROVIDER_TIMEOUT of 0.5 s


def _sign_in(client: Client) -> Any:
    return client.get(loopback_authorize(client.get("/auth/discord/login", {"next": "/app?from=test"})))


def test_success_through_the_real_client_code(loopback: FakeProviders) -> None:
    loopback.user = {**loopback.user, "avatar": "a" * 32}
    resp = _sign_in(Client())
    assert resp.status_code == 200, resp.content
    assert b'"/app?from=test"' in resp.content
    token_call = loopback.calls["token"][0]
    auth = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert token_call.headers["authorization"] == f"Basic {auth}"
    challenge = loopback.calls["authorize"][0].query["code_challenge"]
    verifier = token_call.form["code_verifier"]
    assert base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode() == challenge
    pf = loopback.calls["playfab_login"][0]
    assert pf.headers["x-secretkey"] == SECRET_KEY
    assert pf.json == {"ServerCustomId": loopback.user["id"], "CreateAccount": True}
    user = User.objects.get()
    assert user.discord_id == loopback.user["id"] and user.discord_username == "nelly"
    assert user.avatar_url == f"https://cdn.discordapp.com/avatars/{user.discord_id}/{'a' * 32}.png?size=128"
    ticket = open_ticket(AuthSession.objects.get().playfab_ticket_enc)
    assert ticket is not None and ticket.ticket in loopback.tickets


def test_each_sign_in_updates_name_and_avatar(loopback: FakeProviders) -> None:
    assert _sign_in(Client()).status_code == 200
    loopback.user = {**loopback.user, "username": "nelly2", "avatar": "b" * 32}
    assert _sign_in(Client()).status_code == 200
    user = User.objects.get()
    assert user.discord_username == "nelly2" and ("b" * 32) in user.avatar_url
    assert AuthSession.objects.filter(user=user).count() == 2


@dataclass(frozen=True)
class Case:
    endpoint: str
    replies: tuple[Reply, ...]
    status: int
    code: str
    text: str
    calls: int | None = None
    waits: tuple[float, ...] | None = None
    retry_after: str | None = None


TOO_MANY = Reply(429, {"message": "You are being rate limited.", "retry_after": 1.0, "global": False}, {"Retry-After": "1"})
CASES = {
    "discord 429 with Retry-After, every time": Case(
        "token", (TOO_MANY,) * 3, 503, "discord_unavailable", "too many requests", calls=3, waits=(1.0, 1.0), retry_after="1"),
    "discord 429 asking more than the cap": Case(
        "token", (Reply(429, {"retry_after": 120}, {"Retry-After": "120"}),), 503, "discord_unavailable", "Try again",
        calls=1, waits=(), retry_after="120"),
    "discord 500 on the token exchange (not replayed)": Case(
        "token", (Reply(500, {"message": "boom"}),), 503, "discord_unavailable", "HTTP 500", calls=1, waits=()),
    "discord 502 three times": Case(
        "token", (Reply(502, b"<html>bad gateway</html>"),) * 3, 503, "discord_unavailable", "HTTP 502", calls=3),
    "discord token slower than the timeout (not replayed)": Case(
        "token", (Reply(200, {}, delay=SLOW),), 503, "discord_unavailable", "no answer in time", calls=1),
    "discord user slower than the timeout (retried)": Case(
        "me", (Reply(200, {}, delay=SLOW),) * 3, 503, "discord_unavailable", "no answer in time", calls=3),
    "discord user 500 every time": Case(
        "me", (Reply(500, {"message": "boom"}),) * 3, 503, "discord_unavailable", "HTTP 500", calls=3),
    "discord token malformed JSON": Case(
        "token", (Reply(200, b"{not json"),), 502, "discord_bad_response", "not JSON"),
    "discord token without a token": Case(
        "token", (Reply(200, {"token_type": "Bearer"}),), 502, "discord_bad_response", "without a bearer token"),
    "discord user malformed JSON": Case(
        "me", (Reply(200, b"[1,"),), 502, "discord_bad_response", "not JSON"),
    "discord invalid_grant": Case(
        "token", (Reply(400, {"error": "invalid_grant"}),), 400, "discord_code_invalid", "expired or was already used"),
    "discord invalid_client": Case(
        "token", (Reply(401, {"error": "invalid_client"}),), 502, "discord_config_invalid", "operator"),
    "playfab 429 with retryAfterSeconds, every time": Case(
        "playfab_login", (playfab_error(429, "APIClientRequestRateLimitExceeded", 1199, retryAfterSeconds=1),) * 3,
        503, "playfab_unavailable", "too many requests", calls=3, waits=(1.0, 1.0), retry_after="1"),
    "playfab 500 every time": Case(
        "playfab_login", (playfab_error(500, "InternalServerError", 1123),) * 3, 503, "playfab_unavailable", "HTTP 500", calls=3),
    "playfab slower than the timeout": Case(
        "playfab_login", (Reply(200, {}, delay=SLOW),) * 3, 503, "playfab_unavailable", "no answer in time", calls=3),
    "playfab error envelope": Case(
        "playfab_login", (playfab_error(400, "InvalidParams", 1000, "Invalid input parameters"),),
        502, "playfab_error", "InvalidParams (1000)"),
    "playfab refuses the secret key": Case(
        "playfab_login", (playfab_error(401, "NotAuthenticated", 1074),), 502, "playfab_config_invalid", "secret key"),
    "playfab malformed JSON": Case(
        "playfab_login", (Reply(200, b"<html>"),), 502, "playfab_bad_response", "not JSON"),
    "playfab success without a ticket": Case(
        "playfab_login", (Reply(200, {"code": 200, "status": "OK", "data": {"PlayFabId": "ABC"}}),),
        502, "playfab_bad_response", "session ticket"),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_provider_failure_is_clear_and_creates_nothing(loopback: FakeProviders, waits: list[float], case: Case) -> None:
    loopback.queue(case.endpoint, *case.replies)
    c = Client()
    resp = _sign_in(c)
    page = resp.content.decode()
    assert resp.status_code == case.status, page
    assert case.code in page and case.text in page
    assert 'href="/auth/discord/login?next=%2Fapp%3Ffrom%3Dtest"' in page  # "Try again", keeping `next`
    assert resp["Cache-Control"] == "no-store"
    if case.retry_after is not None:
        assert resp["Retry-After"] == case.retry_after
    if case.calls is not None:
        assert len(loopback.calls[case.endpoint]) == case.calls
    if case.waits is not None:
        assert tuple(waits) == case.waits
    assert SESSION_COOKIE not in resp.cookies and REFRESH_COOKIE not in resp.cookies
    assert User.objects.count() == 0 and AuthSession.objects.count() == 0
    # Nothing half made: the next attempt starts clean and works.
    assert _sign_in(c).status_code == 200
    assert User.objects.count() == 1 and AuthSession.objects.count() == 1


def test_access_denied_on_discord(loopback: FakeProviders) -> None:
    loopback.deny = True
    resp = _sign_in(Client())
    assert resp.status_code == 403
    assert b"discord_denied" in resp.content and b"cancelled on Discord" in resp.content and b"Try again" in resp.content
    assert SESSION_COOKIE not in resp.cookies and User.objects.count() == 0 and AuthSession.objects.count() == 0
    assert not loopback.calls["token"]


def test_throttled_once_then_fine_waits_what_was_asked(loopback: FakeProviders, waits: list[float]) -> None:
    loopback.queue("token", Reply(429, {"retry_after": 0.4}, {"Retry-After": "1"}))
    loopback.queue("playfab_login", playfab_error(429, "APIClientRequestRateLimitExceeded", 1199, retryAfterSeconds=2))
    resp = _sign_in(Client())
    assert resp.status_code == 200, resp.content
    assert waits == [1.0, 2.0]  # the header wins over Discord's body field; PlayFab's own field
    assert len(loopback.calls["token"]) == 2 and len(loopback.calls["playfab_login"]) == 2


def test_retry_after_as_http_date(loopback: FakeProviders, waits: list[float]) -> None:
    loopback.queue("me", Reply(503, b"", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    assert _sign_in(Client()).status_code == 200
    assert waits == [0.0]  # a date in the past: retry at once


def test_provider_unreachable(loopback: FakeProviders, settings: Any) -> None:
    from tests.signin.conftest import configure
    from tests.support.redis_server import free_port

    configure(settings, PLAYFAB_API_BASE=f"http://127.0.0.1:{free_port()}")
    resp = _sign_in(Client())
    assert resp.status_code == 503 and b"playfab_unavailable" in resp.content
    assert User.objects.count() == 0 and AuthSession.objects.count() == 0


def test_the_budget_caps_the_whole_sign_in(loopback: FakeProviders, settings: Any) -> None:
    from tests.signin.conftest import configure

    configure(settings, PROVIDER_BUDGET=0.8)
    loopback.queue("me", *(Reply(200, {}, delay=SLOW),) * 3)
    resp = _sign_in(Client())
    assert resp.status_code == 503
    assert len(loopback.calls["me"]) <= 2  # the budget ran out before the retries did


@pytest.mark.parametrize("failure", ["redis", "database"])
def test_store_failure_while_creating_the_session_leaves_no_user(
    loopback: FakeProviders, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    from django.db import OperationalError

    from sessions_core import store
    from sessions_core.errors import StoreUnavailable

    def broken(*args: Any, **kwargs: Any) -> None:
        raise StoreUnavailable() if failure == "redis" else OperationalError("database is locked")

    monkeypatch.setattr(store, "put", broken)
    resp = _sign_in(Client())
    assert resp.status_code == 503 and b"store_unavailable" in resp.content and b"Try again" in resp.content
    assert SESSION_COOKIE not in resp.cookies
    # The user row made for this sign-in was rolled back with the session.
    assert User.objects.count() == 0 and AuthSession.objects.count() == 0


def test_registered_redirect_uri_setting_is_used(loopback: FakeProviders, settings: Any) -> None:
    from urllib.parse import parse_qs, urlsplit

    from tests.signin.conftest import configure

    configure(settings, DISCORD_REDIRECT_URI="http://testserver/auth/discord/callback")
    start = Client(HTTP_HOST="127.0.0.1").get("/auth/discord/login")
    assert parse_qs(urlsplit(start["Location"]).query)["redirect_uri"] == ["http://testserver/auth/discord/callback"]
