"""Every bad token of DESIGN.md's list gets 401 with a stable code and changes nothing."""
from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core import signing

from sessions_core.tokens import signing_keys
from sessions_core.conf import SESSION_COOKIE
from sessions_core.errors import TokenExpired, TokenInvalid
from sessions_core.tokens import SESSION_TOKEN_SALT, make_access_token, make_session_token, read_access_token

from .helpers import db_snapshot, post, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def _b64(d: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


def bad_session_tokens(good: str, sid: str, uid: int) -> dict[str, str]:
    ring = signing_keys.get_keyring()
    kid = ring.signing.kid
    value, _, sig = good.rpartition(":")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    other_key = signing.Signer(key="x" * 64, salt=SESSION_TOKEN_SALT, algorithm="sha256").sign(value)
    return {
        "tampered_payload": good.replace(f".{uid}.", f".{uid + 1}.", 1),
        "tampered_signature": f"{value}:{flipped}",
        "expired": make_session_token(ring, sid=sid, uid=uid, exp=int(time.time()) - 5, generation=0),
        "wrong_key": other_key,
        "unknown_kid": signing.Signer(key=ring.signing.hmac_secret, salt=SESSION_TOKEN_SALT).sign(
            value.rsplit(".", 1)[0] + ".deadbeef0000"
        ),
        "wrong_salt": signing.Signer(key=ring.signing.hmac_secret, salt="other", algorithm="sha256").sign(value),
        "truncated": good[: len(good) // 2],
        "huge": good + "A" * 10_000,
        "empty_sig": value + ":",
        "garbage": "not-a-token",
        "no_kid": f"{sid}.{uid}.9999999999:{sig}",
        "kid_only": kid,
    }


def test_every_bad_session_token_is_refused_with_401_and_changes_nothing(user):
    client, issued = sign_in(user)
    snapshot = db_snapshot()
    for name, bad in bad_session_tokens(issued.session_token, issued.session_id, user.pk).items():
        client.cookies[SESSION_COOKIE] = bad
        resp = post(client, "/auth/token")
        assert resp.status_code == 401, name
        assert resp.json()["error"] in {"token_invalid", "token_expired"}, name
        assert set(resp.json()) == {"error", "detail"}, name
    assert db_snapshot() == snapshot
    client.cookies[SESSION_COOKIE] = issued.session_token
    assert post(client, "/auth/token").status_code == 200


def _forge(header: dict, claims: dict, sig: bytes = b"") -> str:
    return f"{_b64(header)}.{_b64(claims)}." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


def bad_access_tokens(good: str) -> dict[str, str]:
    ring = signing_keys.get_keyring()
    header = jwt.get_unverified_header(good)
    claims = jwt.decode(good, options={"verify_signature": False})
    now = int(time.time())
    other = Ed25519PrivateKey.generate()
    h, p, s = good.split(".")
    public_pem = ring.signing.public_jwk["x"].encode()
    return {
        "alg_none": _forge({"alg": "none", "typ": "at+jwt", "kid": header["kid"]}, claims),
        "hs256_with_public_key": jwt.encode(claims, public_pem, algorithm="HS256", headers={"kid": header["kid"], "typ": "at+jwt"}),
        "wrong_key": jwt.encode(claims, other, algorithm="EdDSA", headers={"kid": header["kid"], "typ": "at+jwt"}),
        "unknown_kid": jwt.encode(claims, other, algorithm="EdDSA", headers={"kid": "nope", "typ": "at+jwt"}),
        "expired": jwt.encode({**claims, "exp": now - 10, "iat": now - 100, "nbf": now - 100}, ring.signing.private,
                              algorithm="EdDSA", headers={"kid": header["kid"], "typ": "at+jwt"}),
        "wrong_audience": jwt.encode({**claims, "aud": "someone-else"}, ring.signing.private, algorithm="EdDSA",
                                     headers={"kid": header["kid"], "typ": "at+jwt"}),
        "wrong_issuer": jwt.encode({**claims, "iss": "evil"}, ring.signing.private, algorithm="EdDSA",
                                   headers={"kid": header["kid"], "typ": "at+jwt"}),
        "wrong_typ": jwt.encode(claims, ring.signing.private, algorithm="EdDSA", headers={"kid": header["kid"], "typ": "JWT"}),
        "missing_jti": jwt.encode({k: v for k, v in claims.items() if k != "jti"}, ring.signing.private,
                                  algorithm="EdDSA", headers={"kid": header["kid"], "typ": "at+jwt"}),
        "not_yet_valid": jwt.encode({**claims, "nbf": now + 600}, ring.signing.private, algorithm="EdDSA",
                                    headers={"kid": header["kid"], "typ": "at+jwt"}),
        "tampered_payload": f"{h}.{_b64({**claims, 'sub': '999'})}.{s}",
        "truncated": good[: len(good) - 10],
        "huge": f"{h}.{p}{'A' * 10_000}.{s}",
        "garbage": "a.b.c",
    }


def test_every_bad_access_token_is_refused_with_a_reason(user):
    _, issued = sign_in(user)
    ring = signing_keys.get_keyring()
    assert read_access_token(ring, issued.access_token).sid == issued.session_id
    for name, bad in bad_access_tokens(issued.access_token).items():
        with pytest.raises(TokenInvalid) as info:
            read_access_token(ring, bad)
        assert info.value.code in {"token_invalid", "token_expired"}, name
        if name == "expired":
            assert isinstance(info.value, TokenExpired)


def test_a_token_of_one_type_is_never_accepted_as_another(user):
    client, issued = sign_in(user)
    ring = signing_keys.get_keyring()
    for other in (issued.session_token, issued.refresh_token):
        with pytest.raises(TokenInvalid):
            read_access_token(ring, other)
    for other in (issued.access_token, issued.refresh_token):
        client.cookies[SESSION_COOKIE] = other
        assert post(client, "/auth/token").status_code == 401
    # An access token minted by this server for its hub audience still fails as a session token.
    token, _ = make_access_token(ring, uid=user.pk, sid=issued.session_id, tv=1, name="x", iat=int(time.time()))
    client.cookies[SESSION_COOKIE] = token
    assert post(client, "/auth/token").json()["error"] == "token_invalid"
