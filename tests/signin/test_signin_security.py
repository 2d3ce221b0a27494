"""OAuth state (single use, bound to the browser), PKCE, local-only ``next``, rate limit."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from sessions_core.store import keys as redis_keys
from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from sessions_core.models import AuthSession, User
from signin.oauth_state import digest
from sessions_core.store.client import get_redis
from signin.flow import safe_next
from tests.signin.conftest import configure, loopback_authorize
from tests.support.fake_providers_server import FakeProviders

pytestmark = pytest.mark.django_db(transaction=True)


def _nothing_created(resp: Any) -> None:
    assert SESSION_COOKIE not in resp.cookies and REFRESH_COOKIE not in resp.cookies
    assert User.objects.count() == 0 and AuthSession.objects.count() == 0


def _state_of(resp: Any) -> str:
    return parse_qs(urlsplit(resp["Location"]).query)["state"][0]


def test_replayed_state_is_refused(loopback: FakeProviders) -> None:
    c = Client()
    callback = loopback_authorize(c.get("/auth/discord/login"))
    assert c.get(callback).status_code == 200
    replay = c.get(callback)
    assert replay.status_code == 400 and b"oauth_state_invalid" in replay.content
    assert SESSION_COOKIE not in replay.cookies
    assert AuthSession.objects.count() == 1
    assert len(loopback.calls["token"]) == 1  # the replay never reached Discord


@pytest.mark.parametrize("query", ["?code=abc", "?code=abc&state=", "?code=abc&state=" + "A" * 43, "?code=abc&state=%00bad"])
def test_missing_or_unknown_state_is_refused(loopback: FakeProviders, query: str) -> None:
    c = Client()
    c.get("/auth/discord/login")  # a live binding cookie does not help without the right state
    resp = c.get("/auth/discord/callback" + query)
    assert resp.status_code == 400 and b"oauth_state_invalid" in resp.content and b"Try again" in resp.content
    _nothing_created(resp)
    assert not loopback.calls["token"]


def test_state_from_another_browser_is_refused(loopback: FakeProviders) -> None:
    victim, attacker = Client(), Client()
    # Login CSRF: the attacker starts a flow and tries to finish it in the victim's browser.
    callback = loopback_authorize(attacker.get("/auth/discord/login"))
    victim.get("/auth/discord/login")
    resp = victim.get(callback)
    assert resp.status_code == 400 and b"oauth_state_invalid" in resp.content
    _nothing_created(resp)
    # The refusal does not spend the state (a foreign browser must not burn someone's
    # sign-in: tests/signin/test_hardening.py); it stays single use once taken.


def test_state_is_short_lived_and_stored_hashed(loopback: FakeProviders, settings: Any) -> None:
    configure(settings, OAUTH_STATE_TTL=__import__("datetime").timedelta(minutes=3))
    resp = Client().get("/auth/discord/login")
    state = _state_of(resp)
    key = redis_keys.oauth_state(digest(state))
    ttl = get_redis().ttl(key)
    assert 0 < ttl <= 180
    stored = get_redis().get(key).decode()
    assert state not in stored and resp.cookies["as_oauth"].value not in stored
    assert resp.cookies["as_oauth"]["max-age"] == 180


def test_two_tabs_can_sign_in_at_once(loopback: FakeProviders) -> None:
    c = Client()
    first = loopback_authorize(c.get("/auth/discord/login", {"next": "/app?tab=1"}))
    second = loopback_authorize(c.get("/auth/discord/login", {"next": "/app?tab=2"}))
    assert c.get(second).status_code == 200
    done = c.get(first)
    assert done.status_code == 200 and b'"/app?tab=1"' in done.content


def test_wrong_pkce_verifier_is_refused(loopback: FakeProviders) -> None:
    c = Client()
    start = c.get("/auth/discord/login")
    key = redis_keys.oauth_state(digest(_state_of(start)))
    pending = json.loads(get_redis().get(key))
    get_redis().set(key, json.dumps({**pending, "verifier": "x" * 64}), keepttl=True)
    resp = c.get(loopback_authorize(start))
    assert resp.status_code == 400 and b"discord_code_invalid" in resp.content
    _nothing_created(resp)
    sent = loopback.calls["token"][0].form
    assert sent["code_verifier"] == "x" * 64 and sent["grant_type"] == "authorization_code"


EVIL = ["//evil.example", "https://evil.example", "/\\evil", "\\\\evil.example", "/\t/evil.example", "http:/evil.example",
        "javascript:alert(1)", "evil.example", "/app\x00", "///evil.example", "/%0a", " /app"]


@pytest.mark.parametrize("target", EVIL)
def test_non_local_next_is_refused(loopback: FakeProviders, target: str) -> None:
    resp = Client().get("/auth/discord/login", {"next": target})
    if target == "/%0a":
        # Percent-encoded: stays a path on this site, and is allowed.
        assert resp.status_code == 302 and resp["Location"].startswith(loopback.base)
        return
    assert resp.status_code == 400, target
    assert b"next_invalid" in resp.content and "Location" not in resp
    assert "as_oauth" not in resp.cookies
    assert 'href="/auth/discord/login?next=%2Fapp"' in resp.content.decode()
    assert not list(get_redis().scan_iter(redis_keys.oauth_state("*")))


@pytest.mark.parametrize("good", ["/app", "/app?x=1#frag", "/", "/app/sessions"])
def test_local_next_is_kept(good: str) -> None:
    assert safe_next(good) == good
    assert safe_next(None) == "/app" and safe_next("") == "/app"


def test_login_is_rate_limited_per_ip(loopback: FakeProviders, settings: Any) -> None:
    configure(settings, RATE_LOGIN="2/m")
    c = Client()
    assert [c.get("/auth/discord/login").status_code for _ in range(2)] == [302, 302]
    limited = c.get("/auth/discord/login")
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert b"rate_limited" in limited.content
    other = Client(REMOTE_ADDR="10.1.2.3")
    assert other.get("/auth/discord/login").status_code == 302
