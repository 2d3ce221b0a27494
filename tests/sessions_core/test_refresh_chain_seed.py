"""The refresh chain is keyed by a per-session seed, not by SECRET_KEY alone.

Attack (issue: "a production server runs on the public development key"): whoever
knows SECRET_KEY and holds an old refresh token used to compute its successors
offline and take the session over with a 200, no reuse event.
"""
from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as dj_settings
from django.utils import timezone
from django.utils.crypto import salted_hmac

from sessions_core.errors import RefreshInvalid, RefreshReused
from sessions_core.models import AuthSession, SessionEvent, SessionState
from sessions_core.services import session_create, session_refresh
from sessions_core.store.client import get_redis
from sessions_core.store import keys
from sessions_core.tokens import crypto, parse_refresh_token, signing_keys

pytestmark = pytest.mark.django_db(transaction=True)


def successor_from_the_server_key(token: str) -> str:
    """What an attacker holding SECRET_KEY computes: the chain's keyed hash of the token."""
    p = parse_refresh_token(token)
    digest = salted_hmac(
        "authsite.refresh-chain", f"{p.sid}:{p.generation}:{p.secret}", secret=dj_settings.SECRET_KEY, algorithm="sha256"
    ).digest()
    return f"r1.{p.uid}.{p.sid}.{p.generation + 1}.{crypto.b64url(digest)}"


def test_the_server_key_alone_cannot_walk_the_chain(user: Any) -> None:
    issued = session_create(user=user, ip="127.0.0.1", user_agent="victim")
    stolen = issued.refresh_token
    current = session_refresh(refresh_token=stolen).tokens.refresh_token  # the victim moves on
    forged = successor_from_the_server_key(stolen)
    assert forged != current
    with pytest.raises(RefreshInvalid):
        session_refresh(refresh_token=forged)
    with pytest.raises(RefreshInvalid):
        session_refresh(refresh_token=successor_from_the_server_key(forged))
    row = AuthSession.objects.get(pk=issued.session_id)
    assert row.state == SessionState.ACTIVE and row.refresh_generation == 1
    # The victim's own chain still works.
    assert session_refresh(refresh_token=current).kind == "rotated"


def test_each_session_has_its_own_seed_stored_encrypted(user: Any) -> None:
    a = session_create(user=user, ip=None, user_agent="a")
    b = session_create(user=user, ip=None, user_agent="b")
    rows = {r.id.hex: r for r in AuthSession.objects.all()}
    sealed = [rows[a.session_id].refresh_seed_enc, rows[b.session_id].refresh_seed_enc]
    seeds = [crypto.decrypt(s) for s in sealed]
    assert all(len(s) == 32 for s in seeds) and seeds[0] != seeds[1]
    for seed, value in zip(seeds, sealed):
        assert seed.hex() not in value and crypto.b64url(seed) not in value
    # Nothing of the seed goes to Redis.
    stored = get_redis().hgetall(keys.session(user.pk, a.session_id))
    assert all(crypto.b64url(seeds[0]).encode() not in v for v in stored.values())


def test_a_session_from_before_seeds_keeps_refreshing(user: Any) -> None:
    """Sessions created before migration 0002 (empty seed) use the old derivation until they end."""
    issued = session_create(user=user, ip=None, user_agent="old")
    AuthSession.objects.filter(pk=issued.session_id).update(refresh_seed_enc="")
    first = session_refresh(refresh_token=issued.refresh_token)
    assert first.tokens.refresh_token == successor_from_the_server_key(issued.refresh_token)
    # Grace replay and rotation both still work.
    assert session_refresh(refresh_token=issued.refresh_token).tokens.refresh_token == first.tokens.refresh_token
    assert session_refresh(refresh_token=first.tokens.refresh_token).kind == "rotated"


def test_secret_key_rotation_keeps_grace_replays_and_ancestor_detection(user: Any, settings: Any) -> None:
    issued = session_create(user=user, ip=None, user_agent="tab")
    t1 = session_refresh(refresh_token=issued.refresh_token).tokens.refresh_token
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "rotated-" + secrets.token_urlsafe(50)
    settings.SECRET_KEY_FALLBACKS = [old_key]
    signing_keys.reset_for_tests()

    # A sibling tab's replay of the predecessor inside the grace window: the same tokens.
    again = session_refresh(refresh_token=issued.refresh_token)
    assert again.kind == "grace" and again.tokens.refresh_token == t1
    t2 = session_refresh(refresh_token=t1).tokens.refresh_token
    assert session_refresh(refresh_token=t2).kind == "rotated"
    # An older ancestor comes back: detected as reuse, the session ends.
    with pytest.raises(RefreshReused):
        session_refresh(refresh_token=issued.refresh_token)
    assert AuthSession.objects.get(pk=issued.session_id).state == SessionState.REVOKED
    assert SessionEvent.objects.filter(kind="refresh_reuse", cause="ancestor_replay").count() == 1


def test_secret_key_rotation_keeps_the_lost_answer_path(user: Any, settings: Any) -> None:
    issued = session_create(user=user, ip=None, user_agent="tab")
    session_refresh(refresh_token=issued.refresh_token)
    earlier = timezone.now() - timedelta(minutes=5)
    AuthSession.objects.filter(pk=issued.session_id).update(refresh_rotated_at=earlier, last_active_at=earlier)
    get_redis().hset(keys.session(user.pk, issued.session_id), "rot", 0)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "rotated-" + secrets.token_urlsafe(50)
    signing_keys.reset_for_tests()
    # Past the window, the predecessor after nothing used the successor: reuse, cause recorded.
    with pytest.raises(RefreshReused):
        session_refresh(refresh_token=issued.refresh_token)
    assert SessionEvent.objects.filter(kind="refresh_reuse", cause="client_lost_answer").count() == 1
