"""The session token ``<sid>.<uid>.<exp>.<kid>.<gen>:<sig>``.

Django's ``Signer`` (HMAC-SHA256) with salt ``authsite.session-token`` and the HMAC
secret of signing key ``kid``; its own salt, so no other token is accepted in its
place (RFC 8725 §3.11-3.12). ``gen`` is the refresh generation the token was
issued with: using it tells the store that generation is in use (see
``services/refresh.py``). A token of the earlier format without ``gen``
(``<sid>.<uid>.<exp>.<kid>``) still verifies, with ``generation = None``: it
records no use, so a deploy signs nobody out; such tokens lapse within
``SESSION_TOKEN_TTL``.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.core import signing

from sessions_core.conf import auth_settings
from sessions_core.errors import TokenExpired, TokenInvalid
from sessions_core.tokens.signing_keys import KeyRing

SESSION_TOKEN_SALT = "authsite.session-token"


@dataclass(frozen=True)
class SessionClaims:
    sid: str
    uid: int
    exp: int
    # The refresh generation it was issued with; None for a token of the earlier format.
    generation: int | None = None


def check_length(token: str) -> None:
    if not token or len(token) > auth_settings.MAX_TOKEN_LENGTH:
        raise TokenInvalid("The token is empty or too long.")


def make_session_token(ring: KeyRing, *, sid: str, uid: int, exp: int, generation: int) -> str:
    key = ring.signing
    value = f"{sid}.{uid}.{exp}.{key.kid}.{generation}"
    return signing.Signer(key=key.hmac_secret, salt=SESSION_TOKEN_SALT, algorithm="sha256", fallback_keys=[]).sign(value)


def read_session_token(ring: KeyRing, token: str, *, now: float) -> SessionClaims:
    """Verify a session token; raises ``TokenInvalid`` / ``TokenExpired``."""
    check_length(token)
    value, sep, _sig = token.rpartition(":")
    parts = value.split(".")
    if not sep or len(parts) not in (4, 5):
        raise TokenInvalid("The session token is malformed.")
    sid, uid, exp, kid = parts[:4]
    key = ring.verifying(kid)
    try:
        signing.Signer(key=key.hmac_secret, salt=SESSION_TOKEN_SALT, algorithm="sha256", fallback_keys=[]).unsign(token)
    except signing.BadSignature as e:
        raise TokenInvalid("The session token signature is not valid.") from e
    try:
        generation = int(parts[4]) if len(parts) == 5 else None
        if generation is not None and generation < 0:
            raise ValueError("negative generation")
        claims = SessionClaims(sid=uuid.UUID(hex=sid).hex, uid=int(uid), exp=int(exp), generation=generation)
    except ValueError as e:
        raise TokenInvalid("The session token is malformed.") from e
    if claims.exp <= now:
        raise TokenExpired("The session token has expired.")
    return claims


def peek_session_kid(token: str) -> str | None:
    value = token.rpartition(":")[0]
    parts = value.split(".")
    return parts[3] if len(parts) in (4, 5) else None
