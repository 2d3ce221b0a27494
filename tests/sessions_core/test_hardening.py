"""Security review findings on the core: inactive users on refresh, no state oracle
on refresh, refresh failures rate-limited, the trusted-hop client IP, CSP."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, RequestFactory

from sessions_core.client_ip import client_ip, client_ip_from
from sessions_core.conf import REFRESH_COOKIE
from sessions_core.models import AuthSession, RevokeReason, SessionState, User
from sessions_core.services import session_create, session_revoke
from sessions_core.tokens import parse_refresh_token

from .helpers import post, sign_in

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def refresh_with(token: str, **extra: Any) -> Any:
    c = Client(**extra)
    c.cookies[REFRESH_COOKIE] = token
    return c.post("/auth/refresh")


def forged_with_real_ids(real: str) -> str:
    p = parse_refresh_token(real)
    return f"r1.{p.uid}.{p.sid}.{p.generation}.{'A' * 43}"


# --- inactive users -----------------------------------------------------------------


def test_a_deactivated_user_cannot_refresh(user: User) -> None:
    issued = session_create(user=user, ip=None, user_agent="t")
    # Deactivated without the admin (a bulk update sends no signal): refresh still checks.
    User.objects.filter(pk=user.pk).update(is_active=False)
    resp = refresh_with(issued.refresh_token)
    assert resp.status_code == 401 and resp.json()["error"] == "account_disabled"
    assert resp.cookies[REFRESH_COOKIE].value == ""  # definitive: the browser signs out
    assert AuthSession.objects.get(pk=issued.session_id).refresh_generation == 0


def test_saving_a_user_inactive_ends_their_sessions_and_tokens(user: User) -> None:
    client, issued = sign_in(user)
    user.is_active = False
    user.save()
    assert post(client, "/auth/validate").json()["error"] in {"session_revoked", "account_disabled"}
    row = AuthSession.objects.get(pk=issued.session_id)
    assert row.state == SessionState.REVOKED and row.revoke_reason == RevokeReason.ACCOUNT_DISABLED
    user.refresh_from_db()
    assert user.token_version == 2


def test_session_create_refuses_an_inactive_user(user: User) -> None:
    from sessions_core.errors import AccountDisabled

    User.objects.filter(pk=user.pk).update(is_active=False)
    with pytest.raises(AccountDisabled):
        session_create(user=user, ip=None, user_agent="t")
    assert AuthSession.objects.count() == 0


# --- refresh: no state oracle, failures counted ---------------------------------------


@pytest.mark.parametrize("state", ["revoked", "expired"])
def test_refresh_says_nothing_about_a_session_to_a_forger(user: User, state: str) -> None:
    issued = session_create(user=user, ip=None, user_agent="t")
    if state == "revoked":
        session_revoke(session=AuthSession.objects.get(pk=issued.session_id), reason=RevokeReason.LOGOUT)
    else:
        from django.utils import timezone

        AuthSession.objects.filter(pk=issued.session_id).update(expires_at=timezone.now())
    forged = refresh_with(forged_with_real_ids(issued.refresh_token))
    assert forged.status_code == 401 and forged.json()["error"] == "refresh_invalid"
    # The holder of the real token is told what happened.
    real = refresh_with(issued.refresh_token)
    assert real.status_code == 401 and real.json()["error"] == f"session_{state}"


def test_forged_refresh_tokens_are_rate_limited_per_ip(user: User, settings: Any) -> None:
    settings.AUTHSITE = {**settings.AUTHSITE, "RATE_REFRESH_FAILURES": "10/m"}
    issued = session_create(user=user, ip=None, user_agent="t")
    uid = parse_refresh_token(issued.refresh_token).uid
    codes = []
    for n in range(12):
        # A different (unknown) session id each time: only the IP ties them together.
        codes.append(refresh_with(f"r1.{uid}.{n:032x}.5.{'B' * 43}").status_code)
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    # Another client is not affected, and nothing changed.
    assert refresh_with(issued.refresh_token, REMOTE_ADDR="192.0.2.9").status_code == 200
    assert AuthSession.objects.get(pk=issued.session_id).refresh_generation == 1


def test_forged_refresh_tokens_are_rate_limited_per_session(user: User, settings: Any) -> None:
    settings.AUTHSITE = {**settings.AUTHSITE, "RATE_REFRESH_FAILURES": "10/m"}
    issued = session_create(user=user, ip=None, user_agent="t")
    forged = forged_with_real_ids(issued.refresh_token)
    codes = [refresh_with(forged, REMOTE_ADDR=f"192.0.2.{n}").status_code for n in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    limited = refresh_with(forged, REMOTE_ADDR="192.0.2.200")
    assert limited.json()["error"] == "rate_limited" and int(limited["Retry-After"]) >= 1


def test_the_ancestor_walk_is_capped_lower(settings: Any) -> None:
    from sessions_core.conf import auth_settings

    assert auth_settings.REFRESH_MAX_ANCESTRY <= 1000


# --- client IP --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "peer,header,hops,expected",
    [
        ("10.0.0.5", "6.6.6.6, 203.0.113.7", 0, "10.0.0.5"),
        ("10.0.0.5", "6.6.6.6, 203.0.113.7", 1, "203.0.113.7"),
        ("10.0.0.5", "6.6.6.6, 203.0.113.7, 10.0.0.9", 2, "203.0.113.7"),
        ("10.0.0.5", "203.0.113.7", 2, "203.0.113.7"),
        ("10.0.0.5", "", 1, "10.0.0.5"),
        ("10.0.0.5", "6.6.6.6, not-an-ip", 1, "10.0.0.5"),
        ("10.0.0.5", "6.6.6.6, 2001:DB8::1", 1, "2001:db8::1"),
    ],
)
def test_client_ip_counts_trusted_hops_from_the_right(peer: str, header: str, hops: int, expected: str) -> None:
    assert client_ip_from(peer, header, hops) == expected


def test_client_ip_reads_the_setting(settings: Any) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert client_ip(request) == "10.0.0.5"
    settings.AUTHSITE = {**settings.AUTHSITE, "TRUSTED_PROXY_HOPS": 1}
    assert client_ip(request) == "203.0.113.7"


# --- Content-Security-Policy ------------------------------------------------------------


def test_pages_carry_a_strict_content_security_policy(user: User) -> None:
    client, _issued = sign_in(user)
    for path in ("/", "/app"):
        csp = client.get(path)["Content-Security-Policy"]
        directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
        assert directives["script-src"] == ["'self'"], csp
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert directives["object-src"] == ["'none'"] and directives["base-uri"] == ["'none'"]
        assert directives["frame-ancestors"] == ["'none'"]


def test_templates_have_no_inline_executable_script() -> None:
    """With script-src 'self' an inline script would not run: every script is a file."""
    for template in (ROOT / "templates").rglob("*.html"):
        html = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I):
            attrs = tag.lower()
            if 'type="application/json"' in attrs:
                continue  # data, not code
            assert "src=" in attrs, f"inline script in {template.relative_to(ROOT)}: {tag}"
        assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I), f"inline event handler in {template}"
        assert "javascript:" not in html.lower(), template
