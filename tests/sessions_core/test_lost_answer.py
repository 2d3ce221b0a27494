"""Lost refresh answers are recovered; a successor that was used makes a late
predecessor reuse, as before (services/refresh.py, "Generation in use").

Time is moved, not slept: ``later`` moves the refresh service's clock forward
(``_age_rotation`` instead pushes the last rotation back, where the service's
clock cannot be reached, e.g. through the HTTP stack in another thread).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from sessions_core import store
from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from sessions_core.errors import StoreUnavailable
from sessions_core.models import AuthSession, RevokeReason, SessionEvent, SessionState
from sessions_core.services import refresh as refresh_service
from sessions_core.store import keys as redis_keys
from sessions_core.store.client import get_redis
from sessions_core.tokens import read_access_token, read_session_token, signing_keys

from .helpers import post, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


class _Later:
    """A stand-in for ``django.utils.timezone`` whose ``now()`` runs ``seconds`` ahead."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def now(self) -> datetime:
        return timezone.now() + timedelta(seconds=self.seconds)


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """``later(11)``: from now on the refresh service believes it is 11 s later."""

    def move(seconds: float) -> None:
        monkeypatch.setattr(refresh_service, "timezone", _Later(seconds))

    return move


def _age_rotation(sid: str, uid: int, seconds: int) -> None:
    """Move the last rotation ``seconds`` into the past (SQL and Redis)."""
    row = AuthSession.objects.get(pk=sid)
    when = row.refresh_rotated_at - timedelta(seconds=seconds)
    AuthSession.objects.filter(pk=sid).update(refresh_rotated_at=when)
    get_redis().hset(redis_keys.session(uid, sid), "rot", int(when.timestamp() * 1000))


def _lose_a_refresh_answer(client: Client) -> dict[str, str]:
    """The server rotates and answers, but the answer never reaches the client:
    it keeps its old cookies. Returns the cookies the lost answer carried."""
    before = {name: client.cookies[name].value for name in (SESSION_COOKIE, REFRESH_COOKIE)}
    lost = post(client, "/auth/refresh")
    assert lost.status_code == 200
    successor = {name: lost.cookies[name].value for name in (SESSION_COOKIE, REFRESH_COOKIE)}
    successor["access_token"] = lost.json()["access_token"]
    for name, value in before.items():
        client.cookies[name] = value
    return successor


def _with_cookies(session_token: str, refresh_token: str | None = None) -> Client:
    c = Client()
    c.cookies[SESSION_COOKIE] = session_token
    if refresh_token:
        c.cookies[REFRESH_COOKIE] = refresh_token
    return c


def test_lost_refresh_answer_retried_after_the_window_gets_the_identical_successor(user, later):
    client, issued = sign_in(user)
    successor = _lose_a_refresh_answer(client)
    # Meanwhile the browser goes on with its old (still valid) session token.
    assert post(client, "/auth/validate").json()["valid"] is True
    later(11)
    retry = post(client, "/auth/refresh")
    assert retry.status_code == 200, retry.content
    assert retry.cookies[SESSION_COOKIE].value == successor[SESSION_COOKIE]
    assert retry.cookies[REFRESH_COOKIE].value == successor[REFRESH_COOKIE]
    assert retry.json()["access_token"] == successor["access_token"]
    # Still signed in, on the successor; the chain moved exactly once.
    again = post(client, "/auth/validate")
    assert again.status_code == 200 and again.json()["session"]["id"] == issued.session_id
    row = AuthSession.objects.get(pk=issued.session_id)
    assert row.state == SessionState.ACTIVE and row.refresh_generation == 1
    assert SessionEvent.objects.filter(session_id=row.pk, cause="lost_answer_recovered").count() == 1
    assert not SessionEvent.objects.filter(kind="revoked").exists()
    # And the recovered successor rotates normally.
    assert post(client, "/auth/refresh").status_code == 200
    assert AuthSession.objects.get(pk=issued.session_id).refresh_generation == 2


def test_recovery_still_works_ten_minutes_later_while_the_successor_is_unused(user, later):
    client, issued = sign_in(user)
    successor = _lose_a_refresh_answer(client)
    later(600)
    retry = post(client, "/auth/refresh")
    assert retry.status_code == 200
    assert retry.cookies[REFRESH_COOKIE].value == successor[REFRESH_COOKIE]


def test_replay_after_the_successors_session_token_was_used_is_reuse(user):
    other, _ = sign_in(user, ua="other device")
    client, issued = sign_in(user)
    successor = _lose_a_refresh_answer(client)
    # Someone (the thief, or the owner's other tab) uses the successor once.
    assert post(_with_cookies(successor[SESSION_COOKIE]), "/auth/validate").status_code == 200
    _age_rotation(issued.session_id, user.pk, 11)
    resp = post(client, "/auth/refresh")
    assert resp.status_code == 401 and resp.json()["error"] == "refresh_reused"
    row = AuthSession.objects.get(pk=issued.session_id)
    assert row.state == SessionState.REVOKED and row.revoke_reason == RevokeReason.REUSE
    assert SessionEvent.objects.get(kind="refresh_reuse", session_id=row.pk).cause == "replay_outside_window"
    # Both holders are out; the user's other session is untouched.
    assert post(_with_cookies(successor[SESSION_COOKIE]), "/auth/validate").json()["error"] == "session_revoked"
    assert post(other, "/auth/validate").status_code == 200


def test_replay_after_the_successors_access_token_was_used_at_the_hub_is_reuse(user):
    client, issued = sign_in(user)
    successor = _lose_a_refresh_answer(client)
    hub = Client().post("/hub/negotiate?negotiateVersion=1", HTTP_AUTHORIZATION=f"Bearer {successor['access_token']}")
    assert hub.status_code == 200, hub.content
    _age_rotation(issued.session_id, user.pk, 11)
    resp = post(client, "/auth/refresh")
    assert resp.status_code == 401 and resp.json()["error"] == "refresh_reused"
    assert AuthSession.objects.get(pk=issued.session_id).state == SessionState.REVOKED


def test_use_of_the_successor_survives_a_redis_flush(user, private_redis):
    client, issued = sign_in(user)
    successor = _lose_a_refresh_answer(client)
    assert post(_with_cookies(successor[SESSION_COOKIE]), "/auth/validate").status_code == 200
    # Written to SQL by the request that first used it, so an empty Redis cannot forget it.
    assert AuthSession.objects.get(pk=issued.session_id).refresh_generation_in_use == 1
    private_redis.client().flushall()
    _age_rotation_sql_only(issued.session_id, 11)
    resp = post(client, "/auth/refresh")
    assert resp.status_code == 401 and resp.json()["error"] == "refresh_reused"


def test_lost_answer_recovered_after_a_redis_flush_while_the_successor_is_unused(user, private_redis):
    client, issued = sign_in(user)
    successor = _lose_a_refresh_answer(client)
    private_redis.client().flushall()
    _age_rotation_sql_only(issued.session_id, 11)
    retry = post(client, "/auth/refresh")
    assert retry.status_code == 200
    assert retry.cookies[REFRESH_COOKIE].value == successor[REFRESH_COOKIE]


def _age_rotation_sql_only(sid: str, seconds: int) -> None:
    row = AuthSession.objects.get(pk=sid)
    AuthSession.objects.filter(pk=sid).update(refresh_rotated_at=row.refresh_rotated_at - timedelta(seconds=seconds))


def test_using_the_predecessor_itself_does_not_block_recovery(user):
    client, issued = sign_in(user)
    successor = _lose_a_refresh_answer(client)
    for _ in range(3):
        assert post(client, "/auth/activity").status_code == 200  # generation 0 in use, not 1
    _age_rotation(issued.session_id, user.pk, 30)
    assert post(client, "/auth/refresh").cookies[REFRESH_COOKIE].value == successor[REFRESH_COOKIE]


def test_redis_fault_during_rotation_then_the_old_token_later_still_signs_in(
    user, private_redis, monkeypatch, later
):
    """Redis dies in the middle of a rotation. Whatever the answer (a 503 that changed
    nothing, or the degraded mode's 200 that SQL decided), the client may end up with its
    old token only; Redis comes back empty, and 11 s later the old token still signs in."""
    client, issued = sign_in(user)
    old = {name: client.cookies[name].value for name in (SESSION_COOKIE, REFRESH_COOKIE)}
    real_apply = store.apply_rotation

    def redis_dies_mid_rotation(**kwargs: Any) -> None:
        private_redis.stop()
        real_apply(**kwargs)

    monkeypatch.setattr(refresh_service.store, "apply_rotation", redis_dies_mid_rotation)
    resp = post(client, "/auth/refresh")
    assert resp.status_code in (200, 503), resp.content
    if resp.status_code == 503:
        assert resp.json()["error"] == "store_unavailable" and REFRESH_COOKIE not in resp.cookies
    monkeypatch.setattr(refresh_service.store, "apply_rotation", real_apply)
    for name, value in old.items():  # the answer, if any, never arrived
        client.cookies[name] = value
    private_redis.start()  # back, and empty
    later(11)
    retry = post(client, "/auth/refresh")
    assert retry.status_code == 200, retry.content
    assert post(client, "/auth/validate").status_code == 200
    row = AuthSession.objects.get(pk=issued.session_id)
    assert row.state == SessionState.ACTIVE and row.refresh_generation in (1, 2)


def test_redis_wrote_the_rotation_but_its_answer_was_lost(user, monkeypatch):
    """Redis applied the rotation, then the connection dropped: SQL rolled back, so the
    two disagree until the client's retry with its old token rotates for real."""
    client, issued = sign_in(user)
    real_apply = store.apply_rotation

    def answer_lost(**kwargs: Any) -> None:
        real_apply(**kwargs)
        raise StoreUnavailable()

    monkeypatch.setattr(refresh_service.store, "apply_rotation", answer_lost)
    assert post(client, "/auth/refresh").status_code == 503
    monkeypatch.setattr(refresh_service.store, "apply_rotation", real_apply)
    for age in (0, 11):  # inside the grace window, and after it
        if age:
            get_redis().hset(redis_keys.session(user.pk, issued.session_id), "rot", 1)
        retry = post(client, "/auth/refresh")
        assert retry.status_code == 200, retry.content
        if not age:
            client.cookies[REFRESH_COOKIE] = retry.cookies[REFRESH_COOKIE].value
    assert AuthSession.objects.get(pk=issued.session_id).state == SessionState.ACTIVE


def test_ancestor_replay_is_still_reuse_even_if_nothing_was_used(user):
    client, issued = sign_in(user)
    assert post(client, "/auth/refresh").status_code == 200
    assert post(client, "/auth/refresh").status_code == 200
    _age_rotation(issued.session_id, user.pk, 30)
    resp = post(_with_cookies(issued.session_token, issued.refresh_token), "/auth/refresh")
    assert resp.status_code == 401 and resp.json()["error"] == "refresh_reused"
    assert SessionEvent.objects.get(kind="refresh_reuse").cause == "ancestor_replay"
    assert AuthSession.objects.get(pk=issued.session_id).state == SessionState.REVOKED


def test_tokens_name_their_refresh_generation(user):
    client, issued = sign_in(user)
    ring = signing_keys.get_keyring()
    assert read_session_token(ring, issued.session_token, now=0).generation == 0
    assert read_access_token(ring, issued.access_token).generation == 0
    post(client, "/auth/refresh")
    assert read_session_token(ring, client.cookies[SESSION_COOKIE].value, now=0).generation == 1
    minted = post(client, "/auth/token").json()["access_token"]
    assert read_access_token(ring, minted).generation == 1


def test_a_session_token_of_the_earlier_format_still_signs_in_and_records_no_use(user):
    client, issued = sign_in(user)
    successor = _lose_a_refresh_answer(client)
    ring = signing_keys.get_keyring()
    claims = read_session_token(ring, successor[SESSION_COOKIE], now=0)
    value = f"{claims.sid}.{claims.uid}.{claims.exp}.{ring.signing.kid}"
    from django.core import signing

    from sessions_core.tokens import SESSION_TOKEN_SALT

    legacy = signing.Signer(key=ring.signing.hmac_secret, salt=SESSION_TOKEN_SALT, algorithm="sha256").sign(value)
    assert read_session_token(ring, legacy, now=0).generation is None
    assert post(_with_cookies(legacy), "/auth/validate").status_code == 200
    _age_rotation(issued.session_id, user.pk, 11)
    assert post(client, "/auth/refresh").status_code == 200  # still a recovery


def test_a_forged_generation_is_refused(user):
    _, issued = sign_in(user)
    value, _, sig = issued.session_token.rpartition(":")
    forged = value.rsplit(".", 1)[0] + ".7:" + sig
    resp = post(_with_cookies(forged), "/auth/activity")
    assert resp.status_code == 401 and resp.json()["error"] == "token_invalid"
