"""Recovery from degraded mode: when Redis comes back, empty or stale, SQL's changes win."""
from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from sessions_core.models import AuthSession, User
from sessions_core.store import keys
from sessions_core.store.breaker import breaker
from sessions_core.views.api import DEGRADED_HEADER

from .helpers import post, sign_in
from .test_degraded import redis_gone, take_cookies

pytestmark = pytest.mark.django_db(transaction=True)


def test_recovery_with_stale_redis_sql_wins(user: User, private_redis: Any) -> None:
    """Redis returns with its data from before the outage: the sessions revoked and rotated
    meanwhile are mirrored from SQL before this worker reads Redis again."""
    keep, kept = sign_in(user, ua="keep")
    gone, gone_issued = sign_in(user, ua="gone")
    assert post(keep, "/auth/validate").status_code == 200
    redis_gone(private_redis)

    assert post(gone, "/auth/logout").status_code == 200
    # A copy of the signed-out cookies (as a thief or a stale tab would still hold them).
    gone.cookies[SESSION_COOKIE] = gone_issued.session_token
    gone.cookies[REFRESH_COOKIE] = gone_issued.refresh_token
    resp = post(keep, "/auth/refresh")
    assert resp.status_code == 200
    take_cookies(keep, resp)

    private_redis.start()  # loads the snapshot: "gone" is active there, "keep" one rotation behind
    r = private_redis.client()
    assert r.hget(keys.session(user.pk, gone_issued.session_id), "st") == b"a"
    assert r.hget(keys.session(user.pk, kept.session_id), "gen") == b"0"
    # Still inside the open interval: the breaker keeps every read on SQL.
    assert post(gone, "/auth/validate").status_code == 401
    gone.cookies[SESSION_COOKIE] = gone_issued.session_token  # a refusal clears the cookies; replay them

    assert breaker.probe() is True
    assert not breaker.degraded
    assert r.hget(keys.session(user.pk, gone_issued.session_id), "st") == b"r"
    assert r.hget(keys.session(user.pk, kept.session_id), "gen") == b"1"

    # Served from Redis again: the revoked session is refused, the rotated one works and rotates on.
    resp = post(gone, "/auth/validate")
    assert resp.status_code == 401 and resp.json()["error"] == "session_revoked"
    assert post(keep, "/auth/validate").status_code == 200
    resp = post(keep, "/auth/refresh")
    assert resp.status_code == 200, resp.content
    assert AuthSession.objects.get(pk=kept.session_id).refresh_generation == 2
    assert r.hget(keys.session(user.pk, kept.session_id), "gen") == b"2"


def test_recovery_with_empty_redis_logs_nobody_out(user: User, private_redis: Any) -> None:
    keep, _ = sign_in(user, ua="keep")
    gone, gone_issued = sign_in(user, ua="gone")
    private_redis.stop()
    assert post(gone, "/auth/logout").status_code == 200
    gone.cookies[SESSION_COOKIE] = gone_issued.session_token
    private_redis.start()  # empty
    assert breaker.probe() is True
    assert post(keep, "/auth/validate").status_code == 200
    assert post(gone, "/auth/validate").status_code == 401
    assert post(keep, "/auth/refresh").status_code == 200


def test_probe_keeps_the_breaker_open_while_redis_is_away(user: User, private_redis: Any) -> None:
    client, _ = sign_in(user)
    private_redis.stop()
    assert post(client, "/auth/validate").status_code == 200
    epoch = breaker.epoch
    assert breaker.probe() is False and breaker.degraded
    private_redis.start()
    assert breaker.probe() is True and breaker.epoch == epoch + 1
    ready = Client().get("/readyz")
    assert ready.json()["degraded"] is False and DEGRADED_HEADER not in ready


def test_a_revoke_committed_while_the_breaker_closes_is_mirrored_too(
    user: User, private_redis: Any, monkeypatch: Any
) -> None:
    """A request that found the breaker open and commits its SQL-only revoke just after the
    recovery's query read: the pass after the close mirrors it."""
    from django.utils import timezone

    from sessions_core.store import recovery

    client, issued = sign_in(user)
    assert post(client, "/auth/validate").status_code == 200
    private_redis.client().save()
    private_redis.stop()
    post(client, "/auth/validate")
    private_redis.start()  # stale: the session is active there
    real = recovery.reconcile
    calls = []

    def reconcile_then_a_late_commit(*, since: Any) -> Any:
        out = real(since=since)
        if not calls:
            AuthSession.objects.filter(pk=issued.session_id).update(
                state="revoked", revoke_reason="logout", revoked_at=timezone.now()
            )
        calls.append(since)
        return out

    monkeypatch.setattr(recovery, "reconcile", reconcile_then_a_late_commit)
    assert breaker.probe()
    assert len(calls) == 2
    assert private_redis.client().hget(keys.session(user.pk, issued.session_id), "st") == b"r"
    resp = post(client, "/auth/validate")
    assert resp.status_code == 401 and resp.json()["error"] == "session_revoked"
