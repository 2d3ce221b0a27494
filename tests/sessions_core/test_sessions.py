"""Session lifecycle: eviction, logout blacklisting, token version, key rotation."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from django.utils import timezone

from sessions_core import store

from sessions_core.tokens import signing_keys
from sessions_core.conf import SESSION_COOKIE
from sessions_core.errors import SessionRevoked, TokenInvalid
from sessions_core.models import AuthSession, RevokeReason, SessionEvent, SessionState, SigningKey
from sessions_core.services import session_create, session_refresh, user_bump_token_version
from sessions_core.signals import session_revoked
from sessions_core.tokens import read_access_token

from .helpers import post, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def check_access(token: str) -> bool | None:
    claims = read_access_token(signing_keys.get_keyring(), token)
    asyncio.run(store.acheck_access(claims.sub, claims.sid, claims.jti, claims.tv))
    return True


def test_sixth_session_evicts_the_least_recently_active(user):
    clients = [sign_in(user, ua=f"device {i}") for i in range(5)]
    # Device 0 is the oldest but was just used; device 1 is now the least recently active.
    for i, (c, _) in enumerate(clients):
        if i != 1:
            assert post(c, "/auth/activity").status_code == 200
    revoked: list[str] = []
    session_revoked.connect(lambda sender, sid, **kw: revoked.append(sid), weak=False, dispatch_uid="t-evict")
    try:
        sixth, _ = sign_in(user, ua="device 5")
    finally:
        session_revoked.disconnect(dispatch_uid="t-evict")
    victim = clients[1][1].session_id
    assert revoked == [victim]
    row = AuthSession.objects.get(pk=victim)
    assert row.state == SessionState.REVOKED and row.revoke_reason == RevokeReason.EVICTED
    assert SessionEvent.objects.filter(kind="evicted", session_id=victim, cause="max_sessions").count() == 1
    assert AuthSession.objects.filter(user=user, state=SessionState.ACTIVE).count() == 5
    assert post(clients[1][0], "/auth/activity").json()["error"] == "session_revoked"
    assert post(clients[0][0], "/auth/activity").status_code == 200


def test_logout_blacklists_the_access_tokens_and_ends_the_session(user):
    client, issued = sign_in(user)
    minted = post(client, "/auth/token").json()["access_token"]
    assert check_access(issued.access_token) is True and check_access(minted) is True
    resp = post(client, "/auth/logout", HTTP_AUTHORIZATION=f"Bearer {minted}")
    assert resp.status_code == 200
    assert resp.cookies[SESSION_COOKIE].value == "" and resp.cookies[SESSION_COOKIE]["httponly"]
    for token in (issued.access_token, minted):
        with pytest.raises(SessionRevoked) as info:
            check_access(token)
        assert info.value.reason == "blacklisted"
    assert AuthSession.objects.get(pk=issued.session_id).revoke_reason == RevokeReason.LOGOUT
    with pytest.raises(SessionRevoked):
        session_refresh(refresh_token=issued.refresh_token)


def test_logout_with_expired_session_token_still_ends_the_session_via_refresh_cookie(user):
    client, issued = sign_in(user)
    del client.cookies[SESSION_COOKIE]
    assert post(client, "/auth/logout").status_code == 200
    assert AuthSession.objects.get(pk=issued.session_id).state == SessionState.REVOKED


def test_token_version_bump_invalidates_every_token_of_the_user(user, django_user_model):
    a, ia = sign_in(user)
    b, ib = sign_in(user)
    bob = django_user_model.objects.create(username="bob")
    c, ic = sign_in(bob)
    assert user_bump_token_version(user=user, note="compromised") == 2
    for client in (a, b):
        assert post(client, "/auth/validate").status_code == 401
    for issued in (ia, ib):
        with pytest.raises(SessionRevoked):
            check_access(issued.access_token)
    assert post(c, "/auth/validate").status_code == 200
    assert check_access(ic.access_token) is True
    # A new sign-in after the bump works and carries the new version.
    _, fresh = sign_in(user)
    assert read_access_token(signing_keys.get_keyring(), fresh.access_token).tv == 2
    assert check_access(fresh.access_token) is True


def test_key_rotation_keeps_old_tokens_valid_until_they_expire(user):
    client, issued = sign_in(user)
    old_kid = signing_keys.get_keyring().signing.kid
    # At once (as for a leaked key); the scheduled takeover is tested in test_key_prepublication.
    new = signing_keys.rotate_signing_key(immediately=True)
    assert new.kid != old_kid
    # Old session and access tokens still verify; new ones use the new key.
    assert post(client, "/auth/validate").status_code == 200
    assert check_access(issued.access_token) is True
    fresh = post(client, "/auth/token").json()["access_token"]
    assert read_access_token(signing_keys.get_keyring(), fresh).raw and fresh != issued.access_token
    import jwt

    assert jwt.get_unverified_header(fresh)["kid"] == new.kid
    kids = {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]}
    assert kids == {old_kid, new.kid}
    # Once the old key has been retired longer than any token lives, its tokens stop verifying.
    SigningKey.objects.filter(kid=old_kid).update(retired_at=timezone.now() - timedelta(hours=2))
    signing_keys.invalidate_cache()
    with pytest.raises(TokenInvalid):
        read_access_token(signing_keys.get_keyring(), issued.access_token)
    assert post(client, "/auth/validate").json()["refreshed"] is True  # falls back to the refresh cookie
    assert {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]} == {new.kid}


def test_a_key_rotated_by_another_process_is_picked_up_for_unknown_kids(user):
    client, _ = sign_in(user)
    signing_keys.get_keyring()  # this "worker" has the old ring cached
    row = signing_keys._new_key_row()
    row.save()  # another process added a key; this worker's cache does not know it
    from sessions_core.tokens import make_session_token

    ring = signing_keys._load()
    token = make_session_token(
        type("R", (), {"signing": ring.by_kid[row.kid]})(), sid=client.cookies[SESSION_COOKIE].value.split(".")[0],
        uid=user.pk, exp=int(timezone.now().timestamp()) + 600, generation=0,
    )
    client.cookies[SESSION_COOKIE] = token
    assert post(client, "/auth/validate").json()["refreshed"] is False


def test_discord_avatar_urls_round_trip_through_the_compact_redis_form(user):
    from sessions_core.store.records import pack_avatar, unpack_avatar

    url = "https://cdn.discordapp.com/avatars/123456789012345678/a_0123456789abcdef0123456789abcdef.png"
    assert len(pack_avatar(url)) <= 64 and unpack_avatar(pack_avatar(url)) == url
    other = "https://example.com/me.png"
    assert pack_avatar(other) == other and unpack_avatar(other) == other
    user.avatar_url = url
    user.save()
    client, _ = sign_in(user)
    assert post(client, "/auth/validate").json()["user"]["avatar_url"] == url


def test_activity_reaches_redis_on_every_call_and_sql_at_most_once_a_minute(user):
    from sessions_core.store import keys as redis_keys
    from sessions_core.store.client import get_redis

    client, issued = sign_in(user)
    r = get_redis()
    key = redis_keys.session(user.pk, issued.session_id)
    created = AuthSession.objects.get(pk=issued.session_id).last_active_at
    seen = []
    for _ in range(3):
        assert post(client, "/auth/activity").status_code == 200
        seen.append(int(r.hget(key, "la")))
    assert seen == sorted(seen) and seen[-1] > int(created.timestamp() * 1000)
    assert AuthSession.objects.get(pk=issued.session_id).last_active_at == created  # flushed < 1 min ago
    r.hset(key, "fl", int(r.hget(key, "fl")) - 61_000)  # the last flush was over a minute ago
    post(client, "/auth/activity")
    flushed = AuthSession.objects.get(pk=issued.session_id).last_active_at
    assert flushed > created
    post(client, "/auth/activity")
    assert AuthSession.objects.get(pk=issued.session_id).last_active_at == flushed
