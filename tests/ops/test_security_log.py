"""Security events: JSON lines on `authsite.security`, ids only, never a token, cookie or secret."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from sessions_core import security_log

from sessions_core.store import keys as redis_keys
from sessions_core.models import AuthSession
from sessions_core.store.client import get_redis
from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE, auth_settings
from sessions_core.tokens import parse_refresh_token

from .helpers import events, security_log_lines, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_full_flow_logs_json_events_with_ids_and_no_secret(user, settings):
    settings.AUTHSITE = {**settings.AUTHSITE, "RATE_REFRESH": "2/m"}
    seen_values: list[str] = []
    with security_log_lines() as lines:
        client, issued = signed_in(user)
        seen_values += [issued.session_token, issued.refresh_token, issued.access_token]
        first = client.post("/auth/refresh")
        assert first.status_code == 200
        # A sibling tab replays the old refresh token inside the grace window: same answer.
        sibling = Client()
        sibling.cookies[REFRESH_COOKIE] = issued.refresh_token
        assert sibling.post("/auth/refresh").status_code == 200
        second = client.post("/auth/refresh")
        assert second.status_code == 200
        for resp in (first, second):
            seen_values += [resp.cookies[SESSION_COOKIE].value, resp.cookies[REFRESH_COOKIE].value, resp.json()["access_token"]]
        assert client.post("/auth/refresh").status_code == 429  # third rotation in a minute
        minted = client.post("/auth/token").json()["access_token"]
        seen_values.append(minted)
        assert client.post("/auth/logout", HTTP_AUTHORIZATION=f"Bearer {minted}").status_code == 200
    logged = events(lines)
    names = [e["event"] for e in logged]
    for expected in ("session.created", "refresh.rotated", "refresh.reuse", "ratelimit.hit", "session.revoked"):
        assert expected in names, names
    grace = next(e for e in logged if e["event"] == "refresh.reuse")
    assert grace["cause"] == "concurrent_refresh" and grace["session_id"] == issued.session_id
    revoked = next(e for e in logged if e["event"] == "session.revoked")
    assert (revoked["user_id"], revoked["session_id"], revoked["reason"]) == (user.pk, issued.session_id, "logout")
    assert all(e["logger"] == "authsite.security" and isinstance(e["ts"], float) for e in logged)
    secrets = set(seen_values) | {parse_refresh_token(v).secret for v in seen_values if v.startswith("r1.")}
    secrets |= {settings.SECRET_KEY}
    for line in lines:
        for secret in secrets:
            assert secret not in line, f"a secret leaked into: {line}"


def test_reuse_after_the_window_is_logged_with_its_cause(user):
    client, issued = signed_in(user)
    assert client.post("/auth/refresh").status_code == 200
    assert client.post("/auth/activity").status_code == 200  # the successor is in use
    # Move the rotation out of the grace window (SQL decides; Redis mirrors it).
    past = timezone.now() - auth_settings.REFRESH_GRACE - timedelta(seconds=5)
    AuthSession.objects.filter(pk=issued.session_id).update(refresh_rotated_at=past)
    get_redis().hset(redis_keys.session(user.pk, issued.session_id), "rot", int(past.timestamp() * 1000))
    stale = Client()
    stale.cookies[REFRESH_COOKIE] = issued.refresh_token
    with security_log_lines() as lines:
        assert stale.post("/auth/refresh").json()["error"] == "refresh_reused"
    reuse = [e for e in events(lines) if e["event"] == "refresh.reuse"]
    assert reuse and reuse[0]["cause"] == "replay_outside_window"
    assert any(e["event"] == "session.revoked" and e["reason"] == "refresh_reuse" for e in events(lines))


def test_fields_that_look_like_secrets_are_refused():
    for name in ("token", "refresh_token", "client_secret", "ticket", "password", "cookie"):
        with pytest.raises(ValueError, match="looks like a secret"):
            security_log.event("test.event", **{name: "x"})
