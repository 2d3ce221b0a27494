"""The HTTP contract: cookie flags, CSRF, error shape, validate/refresh/token/activity/sessions."""
from __future__ import annotations

import pytest
from django.test import Client

from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from sessions_core.models import AuthSession, RevokeReason, SessionState

from .helpers import delete, post, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_refresh_sets_httponly_secure_strict_cookies_with_refresh_scoped_to_auth(user):
    client, _ = sign_in(user)
    resp = post(client, "/auth/refresh")
    assert resp.status_code == 200
    s, r = resp.cookies[SESSION_COOKIE], resp.cookies[REFRESH_COOKIE]
    for c in (s, r):
        assert c["httponly"] is True
        assert c["secure"] is True
        assert c["samesite"] == "Strict"
    assert s["path"] == "/"
    assert r["path"] == "/auth/"
    assert 0 < int(s["max-age"]) <= 3600
    assert int(r["max-age"]) <= 30 * 86400


def test_landing_page_sets_csrf_cookie_for_anonymous_visitor():
    resp = Client().get("/")
    assert resp.status_code == 200
    assert "csrftoken" in resp.cookies


@pytest.mark.parametrize("path", ["/auth/refresh", "/auth/logout", "/auth/logout-all", "/auth/token", "/auth/activity"])
def test_state_changing_call_without_csrf_token_is_refused_and_changes_nothing(user, path):
    client, issued = sign_in(user)
    resp = client.post(path)  # no X-CSRFToken
    assert resp.status_code == 403
    assert resp.json()["error"] == "csrf_failed"
    row = AuthSession.objects.get(pk=issued.session_id)
    assert row.state == SessionState.ACTIVE and row.refresh_generation == 0


def test_validate_answers_user_from_session_record(user):
    client, issued = sign_in(user)
    body = post(client, "/auth/validate").json()
    assert body["valid"] is True and body["refreshed"] is False
    assert body["user"] == {
        "id": user.pk, "username": "alice", "display_name": "Alice", "avatar_url": "", "playfab_id": "PF1",
    }
    assert body["session"]["id"] == issued.session_id
    assert 3500 < body["session_token_expires_in"] <= 3600


def test_validate_without_any_cookie_is_definitive_401():
    client = Client()
    resp = client.post("/auth/validate")
    assert resp.status_code == 401
    assert resp.json() == {"error": "not_authenticated", "detail": "Sign in first."}


def test_validate_with_expired_session_token_refreshes_from_the_refresh_cookie(user):
    client, issued = sign_in(user)
    del client.cookies[SESSION_COOKIE]  # the browser dropped the expired cookie
    resp = post(client, "/auth/validate")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["refreshed"] is True and body["access_token"]
    assert resp.cookies[SESSION_COOKIE].value
    assert AuthSession.objects.get(pk=issued.session_id).refresh_generation == 1


def test_token_mints_a_hub_access_token(user):
    client, issued = sign_in(user)
    body = post(client, "/auth/token").json()
    assert body["access_token"].count(".") == 2
    assert 3500 < body["access_expires_in"] <= 3600
    assert body["access_token"] != issued.access_token


def test_activity_requires_a_session(user):
    anonymous = Client(enforce_csrf_checks=True)
    anonymous.get("/")  # a CSRF token, but no session
    resp = post(anonymous, "/auth/activity")
    assert resp.status_code == 401 and resp.json()["error"] == "not_authenticated"
    client, _ = sign_in(user)
    assert post(client, "/auth/activity").json()["ok"] is True


def test_sessions_list_and_end_another_device(user):
    phone, phone_tokens = sign_in(user, ua="Phone")
    laptop, laptop_tokens = sign_in(user, ua="Laptop")
    listed = laptop.get("/auth/sessions").json()["sessions"]
    assert {s["device"] for s in listed} == {"Phone", "Laptop"}
    assert [s["current"] for s in listed if s["device"] == "Laptop"] == [True]
    resp = delete(laptop, f"/auth/sessions/{phone_tokens.session_id}")
    assert resp.status_code == 200 and resp.json()["current"] is False
    assert SESSION_COOKIE not in resp.cookies  # ending another device leaves this one's cookies alone
    assert post(phone, "/auth/activity").json()["error"] == "session_revoked"
    assert post(laptop, "/auth/activity").status_code == 200
    row = AuthSession.objects.get(pk=phone_tokens.session_id)
    assert row.revoke_reason == RevokeReason.ENDED_BY_USER


def test_cannot_end_someone_elses_session(user, django_user_model):
    bob = django_user_model.objects.create(username="bob")
    _, bobs = sign_in(bob)
    client, _ = sign_in(user)
    resp = delete(client, f"/auth/sessions/{bobs.session_id}")
    assert resp.status_code == 404 and resp.json()["error"] == "not_found"
    assert AuthSession.objects.get(pk=bobs.session_id).state == SessionState.ACTIVE


def test_logout_all_ends_every_session_and_clears_cookies(user):
    a, _ = sign_in(user)
    b, _ = sign_in(user)
    resp = post(a, "/auth/logout-all")
    assert resp.status_code == 200 and resp.json()["ended"] == 2
    assert resp.cookies[SESSION_COOKIE].value == "" and resp.cookies[REFRESH_COOKIE].value == ""
    assert post(b, "/auth/validate").status_code == 401
    assert not AuthSession.objects.filter(user=user, state=SessionState.ACTIVE).exists()


def test_health_and_readiness(user):
    assert Client().get("/healthz").json() == {"ok": True}
    body = Client().get("/readyz").json()
    assert body["ok"] is True and body["checks"] == {"redis": True, "database": True}


def test_jwks_publishes_the_signing_key(user):
    _, issued = sign_in(user)
    import jwt

    keys = Client().get("/.well-known/jwks.json").json()["keys"]
    assert keys and all(k["kty"] == "OKP" and k["alg"] == "EdDSA" and "d" not in k for k in keys)
    kid = jwt.get_unverified_header(issued.access_token)["kid"]
    jwk = next(k for k in keys if k["kid"] == kid)
    public = jwt.PyJWK(jwk).key
    claims = jwt.decode(issued.access_token, public, algorithms=["EdDSA"], audience="authsite-hub")
    assert claims["sid"] == issued.session_id
