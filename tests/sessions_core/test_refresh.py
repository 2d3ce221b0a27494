"""Refresh rotation: concurrency, grace window, reuse detection, lifetimes."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from sessions_core.store import keys as redis_keys
from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from sessions_core.errors import RefreshInvalid, RefreshReused, SessionExpired, SessionRevoked
from sessions_core.models import AuthSession, RevokeReason, SessionEvent, SessionState
from sessions_core.store.client import get_redis
from sessions_core.services import session_create, session_refresh

from .helpers import post, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def _age_rotation(sid: str, uid: int, seconds: int) -> None:
    """Pretend the last rotation happened ``seconds`` ago (in SQL and in Redis)."""
    row = AuthSession.objects.get(pk=sid)
    when = row.refresh_rotated_at - timedelta(seconds=seconds)
    AuthSession.objects.filter(pk=sid).update(refresh_rotated_at=when, last_active_at=when)
    get_redis().hset(redis_keys.session(uid, sid), "rot", int(when.timestamp() * 1000))


def test_twenty_concurrent_refreshes_all_succeed_with_identical_tokens_and_one_rotation(user):
    issued = session_create(user=user, ip="127.0.0.1", user_agent="t")
    barrier = threading.Barrier(20)
    results, errors = [], []

    def worker() -> None:
        try:
            barrier.wait()
            out = session_refresh(refresh_token=issued.refresh_token, ip="127.0.0.1")
            results.append(out)
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 20
    assert sorted(r.kind for r in results).count("rotated") == 1
    pairs = {(r.tokens.session_token, r.tokens.refresh_token, r.tokens.access_token) for r in results}
    assert len(pairs) == 1
    row = AuthSession.objects.get(pk=issued.session_id)
    assert row.refresh_generation == 1 and row.state == SessionState.ACTIVE
    assert SessionEvent.objects.filter(kind="refresh_reuse", cause="concurrent_refresh").count() == 19


def test_losers_set_the_winners_cookies_not_different_or_cleared_ones(user):
    a, issued = sign_in(user)
    b, _ = sign_in(user)  # a second client holding the same refresh token as `a`
    b.cookies[SESSION_COOKIE] = issued.session_token
    b.cookies[REFRESH_COOKIE] = issued.refresh_token
    winner = post(a, "/auth/refresh")
    loser = post(b, "/auth/refresh")
    assert winner.status_code == loser.status_code == 200
    for name in (SESSION_COOKIE, REFRESH_COOKIE):
        assert loser.cookies[name].value == winner.cookies[name].value != ""
    assert loser.json()["access_token"] == winner.json()["access_token"]


def test_only_the_immediate_predecessor_gets_the_grace_window(user):
    issued = session_create(user=user, ip=None, user_agent="t")
    first = session_refresh(refresh_token=issued.refresh_token)
    session_refresh(refresh_token=first.tokens.refresh_token)
    # gen 0 is two rotations old: reuse even though the grace window is still open.
    with pytest.raises(RefreshReused):
        session_refresh(refresh_token=issued.refresh_token)
    row = AuthSession.objects.get(pk=issued.session_id)
    assert row.state == SessionState.REVOKED and row.revoke_reason == RevokeReason.REUSE
    assert SessionEvent.objects.filter(kind="refresh_reuse", cause="ancestor_replay").count() == 1


def test_replay_after_the_grace_window_revokes_that_session_alone(user):
    other = session_create(user=user, ip=None, user_agent="other device")
    issued = session_create(user=user, ip=None, user_agent="t")
    new = session_refresh(refresh_token=issued.refresh_token)
    user_of_new = Client()
    user_of_new.cookies[SESSION_COOKIE] = new.tokens.session_token
    assert user_of_new.post("/auth/activity").status_code == 200  # the successor is in use
    _age_rotation(issued.session_id, user.pk, 11)
    with pytest.raises(RefreshReused):
        session_refresh(refresh_token=issued.refresh_token)
    assert AuthSession.objects.get(pk=issued.session_id).revoke_reason == RevokeReason.REUSE
    assert AuthSession.objects.get(pk=other.session_id).state == SessionState.ACTIVE
    ev = SessionEvent.objects.get(kind="refresh_reuse", session_id=issued.session_id)
    assert ev.cause == "replay_outside_window"
    # The thief's and the owner's tokens are both dead now.
    with pytest.raises(SessionRevoked):
        session_refresh(refresh_token=new.tokens.refresh_token)
    assert session_refresh(refresh_token=other.refresh_token).kind == "rotated"


def test_replay_after_window_of_a_used_session_is_recorded_as_replay(user):
    client, issued = sign_in(user)
    post(client, "/auth/refresh")
    assert post(client, "/auth/activity").status_code == 200  # the successor's session token, used
    _age_rotation(issued.session_id, user.pk, 30)
    with pytest.raises(RefreshReused):
        session_refresh(refresh_token=issued.refresh_token)
    assert SessionEvent.objects.get(kind="refresh_reuse").cause == "replay_outside_window"


def test_garbage_refresh_token_changes_nothing(user):
    issued = session_create(user=user, ip=None, user_agent="t")
    forged = issued.refresh_token.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    for bad in (forged, "r1.x.y.z.w", "", "r1." + "a" * 5000):
        with pytest.raises(RefreshInvalid):
            session_refresh(refresh_token=bad)
    row = AuthSession.objects.get(pk=issued.session_id)
    assert row.state == SessionState.ACTIVE and row.refresh_generation == 0
    assert not SessionEvent.objects.filter(kind="refresh_reuse").exists()


def test_refresh_never_extends_past_the_absolute_lifetime(user):
    issued = session_create(user=user, ip=None, user_agent="t")
    cap = timezone.now() + timedelta(hours=2)
    AuthSession.objects.filter(pk=issued.session_id).update(absolute_expires_at=cap, expires_at=cap)
    get_redis().delete(redis_keys.session(user.pk, issued.session_id))  # rehydrate with the new cap
    out = session_refresh(refresh_token=issued.refresh_token)
    row = AuthSession.objects.get(pk=issued.session_id)
    assert row.expires_at <= cap and out.tokens.refresh_exp <= int(cap.timestamp())
    AuthSession.objects.filter(pk=issued.session_id).update(absolute_expires_at=timezone.now() - timedelta(seconds=1))
    get_redis().delete(redis_keys.session(user.pk, issued.session_id))
    with pytest.raises(SessionExpired):
        session_refresh(refresh_token=out.tokens.refresh_token)


def test_refresh_slides_idle_expiry_only_when_under_a_day_remains(user):
    issued = session_create(user=user, ip=None, user_agent="t")
    before = AuthSession.objects.get(pk=issued.session_id).expires_at
    out = session_refresh(refresh_token=issued.refresh_token)
    assert AuthSession.objects.get(pk=issued.session_id).expires_at == before  # 3 days left: no slide
    soon = timezone.now() + timedelta(hours=5)
    AuthSession.objects.filter(pk=issued.session_id).update(expires_at=soon)
    get_redis().delete(redis_keys.session(user.pk, issued.session_id))
    session_refresh(refresh_token=out.tokens.refresh_token)
    slid = AuthSession.objects.get(pk=issued.session_id).expires_at
    assert slid > soon + timedelta(days=2)


def test_idle_session_ends(user):
    client, issued = sign_in(user)
    AuthSession.objects.filter(pk=issued.session_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    get_redis().delete(redis_keys.session(user.pk, issued.session_id))
    resp = post(client, "/auth/validate")
    assert resp.status_code == 401 and resp.json()["error"] == "session_expired"


def test_grace_replay_does_not_count_against_the_refresh_rate_limit(user, settings):
    settings.AUTHSITE = {**settings.AUTHSITE, "RATE_REFRESH": "2/m"}
    a, issued = sign_in(user)
    assert post(a, "/auth/refresh").status_code == 200
    for _ in range(5):  # sibling tabs replaying the predecessor inside the window
        a.cookies[REFRESH_COOKIE] = issued.refresh_token
        assert post(a, "/auth/refresh").status_code == 200
    a.cookies.pop(REFRESH_COOKIE)
    b, _ = sign_in(user)
    resp = post(a, "/auth/refresh")
    assert resp.status_code == 401  # no refresh cookie at all
    second = post(b, "/auth/refresh")
    assert second.status_code == 200


def test_refresh_rate_limit_answers_429_with_retry_after(user, settings):
    settings.AUTHSITE = {**settings.AUTHSITE, "RATE_REFRESH": "2/m"}
    client, _ = sign_in(user)
    codes = [post(client, "/auth/refresh").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    resp = post(client, "/auth/refresh")
    assert resp.json()["error"] == "rate_limited"
    assert 1 <= int(resp["Retry-After"]) <= 60
    assert REFRESH_COOKIE not in resp.cookies  # a refused call never touches the cookies
