"""Forged refresh tokens against a live session, and forged Bearer tokens at negotiate.

Properties: ``session_refresh`` with any token but the session's own answers a
documented ``AuthError`` and changes nothing (the session stays active, its chain
unmoved); ``POST /hub/negotiate`` with any Authorization header and
``negotiateVersion`` answers 401/429 JSON for a forgery, never 5xx, and stores no
connection token.
"""
from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import AsyncClient
from hypothesis import given, strategies as st

from sessions_core.errors import AuthError, RefreshReused
from sessions_core.models import AuthSession, SessionState
from sessions_core.services import session_create, session_refresh
from sessions_core.store import keys
from sessions_core.store.client import get_redis
from tests.fuzz.budget import fuzz_target
from tests.fuzz.strategies import NUMBERISH, TEXT, mutate

pytestmark = pytest.mark.django_db(transaction=True)


TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"


@pytest.fixture
def live(user: Any) -> Any:
    return session_create(user=user, ip="127.0.0.1", user_agent="fuzz")


@given(data=st.data())
@fuzz_target("refresh.service", weight=0.05)
def test_forged_refresh_tokens_change_nothing(live: Any, data: Any) -> None:
    real = live.refresh_token
    uid, sid = real.split(".")[1:3]
    shaped = st.one_of(
        TEXT,
        st.builds(lambda gen, secret: f"r1.{uid}.{sid}.{gen}.{secret}", NUMBERISH, TEXT),
        st.builds(lambda secret: f"r1.{uid}.{sid}.0.{secret}", st.text(alphabet=TOKEN_ALPHABET, min_size=20, max_size=128)),
    )
    token = mutate(data, real) if data.draw(st.booleans()) else data.draw(shaped)
    if token == real:
        return
    before = AuthSession.objects.values_list("state", "refresh_hash", "refresh_generation").get(pk=live.session_id)
    try:
        session_refresh(refresh_token=token, ip="127.0.0.1")
    except RefreshReused:
        raise AssertionError(f"a forgery counted as reuse: {token!r}")
    except AuthError:
        pass
    else:
        raise AssertionError(f"a forged refresh token was accepted: {token!r}")
    after = AuthSession.objects.values_list("state", "refresh_hash", "refresh_generation").get(pk=live.session_id)
    assert after == before and after[0] == SessionState.ACTIVE


# Header values are bytes on the wire (ASGI hands them over as latin-1); no CR/LF/NUL.
WIRE = TEXT.map(lambda s: s.encode("utf-8", "surrogatepass").decode("latin1")).filter(
    lambda s: not any(c in s for c in "\r\n\x00")
)
AUTH = st.one_of(
    WIRE,
    WIRE.map(lambda s: "Bearer " + s),
    st.sampled_from(["Bearer", "Bearer ", "bearer x.y.z", "Basic Zm9vOmJhcg==", "Bearer eyJhbGciOiJub25lIn0.e30."]),
)


@given(auth=AUTH, version=st.one_of(TEXT, NUMBERISH))
@fuzz_target("hub.negotiate", weight=0.05)
def test_negotiate_refuses_forged_bearers(auth: str, version: str) -> None:
    async def call() -> Any:
        headers = {"Authorization": auth}
        return await AsyncClient().post("/hub/negotiate", QUERY_STRING=urlencode({"negotiateVersion": version}), headers=headers)

    resp = asyncio.run(call())
    assert resp.status_code in (401, 429), (resp.status_code, auth, version)
    assert resp.json()["error"] in {"not_authenticated", "token_invalid", "token_expired", "rate_limited"}
    assert not list(get_redis().scan_iter(keys.negotiation("*", "*")))
