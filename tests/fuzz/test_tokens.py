"""Session, refresh and access tokens: attacker text never crashes a parser, and
nothing but the server's own tokens is ever accepted.

Properties: each parser returns or raises its documented ``AuthError``
(``TokenInvalid``/``TokenExpired``, ``RefreshInvalid``), nothing else; a token
not made by the server (random, mutated, re-signed, ``alg: none``, wrong key or
algorithm) is never accepted with different claims.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, strategies as st

from sessions_core.tokens import ACCESS_TOKEN_TYP, make_access_token, make_session_token
from sessions_core.tokens.signing_keys import KeyRing
from tests.fuzz import properties
from tests.fuzz.budget import fuzz_target
from tests.fuzz.strategies import HEXISH, JSON_VALUES, NUMBERISH, TEXT, b64url, json_text, mutate

SID = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return properties.memory_ring()


# --- session token -----------------------------------------------------------------


@given(data=st.data())
@fuzz_target("session_token.text")
def test_session_token_random_text(ring: KeyRing, data: Any) -> None:
    kid = ring.signing.kid
    shaped = st.builds(
        lambda sid, uid, exp, k, sig: f"{sid}.{uid}.{exp}.{k}:{sig}", HEXISH, NUMBERISH, NUMBERISH,
        st.sampled_from([kid, "", "x", kid.upper()]) | TEXT, TEXT,
    )
    properties.session_token_refused(ring, data.draw(st.one_of(TEXT, shaped)))


@given(data=st.data())
@fuzz_target("session_token.mutation")
def test_session_token_mutations(ring: KeyRing, data: Any) -> None:
    good = make_session_token(ring, sid=SID, uid=7, exp=int(time.time()) + 3600)
    properties.session_token_refused(ring, mutate(data, good), original=good)


# --- refresh token -----------------------------------------------------------------


@given(data=st.data())
@fuzz_target("refresh_token.parse")
def test_refresh_token_parser(data: Any) -> None:
    shaped = st.builds(
        lambda p, uid, sid, gen, secret: f"{p}.{uid}.{sid}.{gen}.{secret}",
        st.sampled_from(["r1", "r2", "R1", ""]), NUMBERISH, HEXISH, NUMBERISH, TEXT,
    )
    properties.refresh_token_parses_or_refuses(data.draw(st.one_of(TEXT, shaped)))


# --- access token ------------------------------------------------------------------


def _claims(uid: int = 7) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "authsite", "aud": "authsite-hub", "sub": str(uid), "sid": SID, "iat": now, "nbf": now,
            "exp": now + 600, "jti": "j", "tv": 1}


@given(token=TEXT)
@fuzz_target("access_token.text")
def test_access_token_random_text(ring: KeyRing, token: str) -> None:
    properties.access_token_refused(ring, token)


@given(data=st.data())
@fuzz_target("access_token.forged")
def test_access_token_forgeries(ring: KeyRing, data: Any) -> None:
    """Header and claims chosen by the attacker, signed every way but with the server's key."""
    key = ring.signing
    header = data.draw(st.dictionaries(st.sampled_from(["alg", "kid", "typ", "jku", "jwk", "crit", "x5u"]), JSON_VALUES))
    header.setdefault("kid", data.draw(st.sampled_from([key.kid, None, "../" + key.kid])))
    header.setdefault("typ", data.draw(st.sampled_from([ACCESS_TOKEN_TYP, "JWT", None])))
    claims = {**_claims(), **data.draw(st.dictionaries(st.sampled_from(list(_claims()) + ["name", "x"]), JSON_VALUES))}
    public_raw = key.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public_pem = key.public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    how = data.draw(st.sampled_from(["none", "hs256-raw", "hs256-pem", "hs256-hmac", "other-ed25519", "garbage-sig"]))
    head = {k: v for k, v in header.items() if v is not None}
    if how == "other-ed25519":
        head["alg"] = "EdDSA"
        signing_input = f"{b64url(json_text(head).encode())}.{b64url(json_text(claims).encode())}"
        token = f"{signing_input}.{b64url(Ed25519PrivateKey.generate().sign(signing_input.encode()))}"
    elif how.startswith("hs256"):
        # Algorithm confusion: the public key (or the session-token HMAC secret) as an
        # HS256 secret, signed by hand (PyJWT itself refuses a PEM key as HMAC secret).
        secret = {"hs256-raw": public_raw, "hs256-pem": public_pem, "hs256-hmac": key.hmac_secret.encode()}[how]
        head["alg"] = "HS256"
        signing_input = f"{b64url(json_text(head).encode())}.{b64url(json_text(claims).encode())}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{b64url(mac)}"
    else:
        head.setdefault("alg", "none" if how == "none" else "EdDSA")
        signature = b"" if how == "none" else data.draw(st.binary(max_size=80))
        token = f"{b64url(json_text(head).encode())}.{b64url(json_text(claims).encode())}.{b64url(signature)}"
    properties.access_token_refused(ring, token)


@given(data=st.data())
@fuzz_target("access_token.mutation")
def test_access_token_mutations(ring: KeyRing, data: Any) -> None:
    good, claims = make_access_token(ring, uid=7, sid=SID, tv=1, name="Alice", iat=int(time.time()))
    properties.access_token_refused(ring, mutate(data, good), original=claims)
