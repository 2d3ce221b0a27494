"""The handshake middleware: every bad token is refused before accept, and logged."""
from __future__ import annotations

import base64
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from asgiref.sync import sync_to_async
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sessions_core import store
from sessions_core.conf import auth_settings
from sessions_core.tokens.signing_keys import get_keyring
from sessions_core.models import AuthSession, RevokeReason
from sessions_core.services import session_revoke
from sessions_core.tokens import ACCESS_TOKEN_TYP
from tests.realtime.helpers import Hub, access_token, open_hub, security_events

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(issued: Any, **over: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": auth_settings.JWT_ISSUER, "aud": auth_settings.JWT_AUDIENCE, "sub": str(issued.user_id),
        "sid": issued.session_id, "iat": now, "nbf": now, "exp": now + 600, "jti": "j" * 22, "tv": 1, "name": "Alice",
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def sign(claims: dict[str, Any], *, kid: str | None = None, key: Any = None, typ: str = ACCESS_TOKEN_TYP) -> str:
    ring = get_keyring()
    return jwt.encode(
        claims, key or ring.signing.private, algorithm="EdDSA", headers={"kid": kid or ring.signing.kid, "typ": typ}
    )


def hs256_with_public_key(claims: dict[str, Any]) -> str:
    """The classic key-confusion forgery: HMAC keyed with the published public key."""
    ring = get_keyring()
    public = ring.signing.public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    head = b64(json.dumps({"alg": "HS256", "typ": ACCESS_TOKEN_TYP, "kid": ring.signing.kid}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(public, f"{head}.{body}".encode(), "sha256").digest()
    return f"{head}.{body}.{b64(sig)}"


def alg_none(claims: dict[str, Any]) -> str:
    head = b64(json.dumps({"alg": "none", "typ": ACCESS_TOKEN_TYP, "kid": get_keyring().signing.kid}).encode())
    return f"{head}.{b64(json.dumps(claims).encode())}."


def tampered(token: str) -> str:
    head, body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["sub"] = "999"
    return f"{head}.{b64(json.dumps(payload).encode())}.{sig}"


BAD_TOKENS = {
    "tampered": lambda i: tampered(i.access_token),
    "expired": lambda i: access_token(i.user_id, i.session_id, exp_in=-5),
    "unknown_kid": lambda i: sign(claims_for(i), kid="nosuchkey", key=Ed25519PrivateKey.generate()),
    "wrong_key_known_kid": lambda i: sign(claims_for(i), key=Ed25519PrivateKey.generate()),
    "alg_none": lambda i: alg_none(claims_for(i)),
    "hs256_public_key": lambda i: hs256_with_public_key(claims_for(i)),
    "wrong_audience": lambda i: sign(claims_for(i, aud="someone-else")),
    "wrong_issuer": lambda i: sign(claims_for(i, iss="evil")),
    "wrong_typ_jwt": lambda i: sign(claims_for(i), typ="JWT"),
    "session_token": lambda i: i.session_token,
    "refresh_token": lambda i: i.refresh_token,
    "truncated": lambda i: i.access_token[:-12],
    "huge": lambda i: i.access_token + "A" * 5000,
    "garbage": lambda i: "not-a-token",
    "missing_jti": lambda i: sign(claims_for(i, jti=None)),
    "missing_sid": lambda i: sign(claims_for(i, sid=None)),
    "missing_tv": lambda i: sign(claims_for(i, tv=None)),
    "missing_exp": lambda i: sign(claims_for(i, exp=None)),
    "not_yet_valid": lambda i: sign(claims_for(i, nbf=int(time.time()) + 600)),
    "other_users_session": lambda i: sign(claims_for(i, sub=str(i.user_id + 1000))),
}


async def assert_refused(path: str, issued: Any, headers: list[tuple[bytes, bytes]] | None = None) -> list[Any]:
    with security_events() as events:
        hub = Hub(path, headers=headers)
        connected, _code = await hub.connect()
    assert connected is False
    refused = [e for e in events if e.msg == "hub.refused"]
    assert len(refused) == 1, [e.msg for e in events]
    for record in events:
        # The token never reaches the log: only its owner's ids and the reason.
        assert issued.access_token not in json.dumps(getattr(record, "fields", {}), default=str)
    return refused


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
async def test_bad_token_refused_before_accept(issued: Any, kind: str) -> None:
    token = await sync_to_async(BAD_TOKENS[kind])(issued)
    refused = await assert_refused(f"/hub?access_token={token}", issued)
    assert refused[0].fields["reason"] in {"token_invalid", "token_expired", "session_revoked"}


@pytest.mark.parametrize("kind", ["tampered", "alg_none", "hs256_public_key", "session_token"])
async def test_bad_bearer_header_refused(issued: Any, kind: str) -> None:
    token = await sync_to_async(BAD_TOKENS[kind])(issued)
    await assert_refused("/hub", issued, headers=[(b"authorization", f"Bearer {token}".encode())])


async def test_no_token_refused(issued: Any) -> None:
    refused = await assert_refused("/hub", issued)
    assert refused[0].fields["reason"] == "not_authenticated"


async def test_blacklisted_jti_refused(issued: Any) -> None:
    claims = jwt.decode(issued.access_token, options={"verify_signature": False})
    await sync_to_async(store.blacklist_jti)(uid=issued.user_id, jti=claims["jti"], exp=claims["exp"])
    refused = await assert_refused(f"/hub?access_token={issued.access_token}", issued)
    assert refused[0].fields["reason"] == "session_revoked"
    assert refused[0].fields["revoke_reason"] in {"admin", "blacklisted"}
    assert refused[0].fields["revoke_reason"] == "blacklisted"
    assert refused[0].fields["user_id"] == issued.user_id


async def test_revoked_session_refused(issued: Any) -> None:
    row = await AuthSession.objects.aget(pk=issued.session_id)
    await sync_to_async(session_revoke)(session=row, reason=RevokeReason.ADMIN)
    refused = await assert_refused(f"/hub?access_token={issued.access_token}", issued)
    assert refused[0].fields["reason"] == "session_revoked"
    assert refused[0].fields["revoke_reason"] in {"admin", "blacklisted"}


async def test_bumped_token_version_refused(issued: Any) -> None:
    # Only the user's version moves (as a bump does before its revokes land).
    await sync_to_async(store.set_user_token_version)(issued.user_id, 2)
    refused = await assert_refused(f"/hub?access_token={issued.access_token}", issued)
    assert refused[0].fields["revoke_reason"] == "token_version"


async def test_foreign_origin_refused(issued: Any) -> None:
    refused = await assert_refused(
        f"/hub?access_token={issued.access_token}", issued, headers=[(b"origin", b"https://evil.example")]
    )
    assert refused[0].fields["reason"] == "origin_refused"


@pytest.mark.parametrize("origin", [None, b"http://localhost:8000", b"http://127.0.0.1"])
async def test_valid_token_accepted(issued: Any, origin: bytes | None) -> None:
    headers = [(b"origin", origin)] if origin else []
    hub = await open_hub(issued.access_token, headers=headers)
    assert (await hub.invoke("Heartbeat"))["result"]["serverTime"] > 0
    await hub.disconnect()


async def test_valid_bearer_header_accepted(issued: Any) -> None:
    hub = Hub("/hub", headers=[(b"authorization", f"Bearer {issued.access_token}".encode())])
    assert (await hub.connect())[0] is True
    assert await hub.handshake() == {}
    await hub.disconnect()


async def test_redis_miss_rehydrates(issued: Any) -> None:
    """A flushed Redis signs nobody out: the session is rebuilt from SQL."""
    from sessions_core.store.client import get_redis
    from sessions_core.store import keys as redis_keys

    await sync_to_async(get_redis().delete)(
        redis_keys.session(issued.user_id, issued.session_id), redis_keys.user(issued.user_id)
    )
    hub = await open_hub(issued.access_token)
    await hub.disconnect()
