"""The three credentials: session token, access token (JWT), refresh token.

Each has its own format, salt and audience so none is accepted in another's
place (RFC 8725 §3.11-3.12):

- session token ``<sid>.<uid>.<exp>.<kid>:<sig>``: Django's ``Signer`` (HMAC-SHA256)
  with salt ``authsite.session-token`` and the HMAC secret of key ``kid``.
- access token: JWT, EdDSA only (a fixed allow-list, RFC 8725 §3.1), ``typ: at+jwt``
  (RFC 9068 §2.1), ``kid`` header, audience = the hub.
- refresh token ``r1.<uid>.<sid>.<gen>.<secret>``: opaque to the client; the
  server stores only an HMAC of the secret. Rotation derives the next secret as
  a keyed hash of the presented one, so every concurrent caller holding the
  immediate predecessor receives the identical successor without the server
  ever storing a token in plain text.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from django.core import signing

from . import crypto
from .conf import NAME_IDENTIFIER_CLAIM, auth_settings
from .errors import RefreshInvalid, TokenExpired, TokenInvalid
from .keys import KeyRing

SESSION_TOKEN_SALT = "authsite.session-token"
ACCESS_TOKEN_TYP = "at+jwt"
ACCESS_ALGORITHMS = ["EdDSA"]
REFRESH_PREFIX = "r1"
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub", "sid", "jti", "tv"]


# --- session token ---------------------------------------------------------------------


@dataclass(frozen=True)
class SessionClaims:
    sid: str
    uid: int
    exp: int


def _check_length(token: str) -> None:
    if not token or len(token) > auth_settings.MAX_TOKEN_LENGTH:
        raise TokenInvalid("The token is empty or too long.")


def make_session_token(ring: KeyRing, *, sid: str, uid: int, exp: int) -> str:
    key = ring.signing
    value = f"{sid}.{uid}.{exp}.{key.kid}"
    return signing.Signer(key=key.hmac_secret, salt=SESSION_TOKEN_SALT, algorithm="sha256", fallback_keys=[]).sign(value)


def read_session_token(ring: KeyRing, token: str, *, now: float) -> SessionClaims:
    """Verify a session token; raises ``TokenInvalid`` / ``TokenExpired``."""
    _check_length(token)
    value, sep, _sig = token.rpartition(":")
    parts = value.split(".")
    if not sep or len(parts) != 4:
        raise TokenInvalid("The session token is malformed.")
    sid, uid, exp, kid = parts
    key = ring.verifying(kid)
    try:
        signing.Signer(key=key.hmac_secret, salt=SESSION_TOKEN_SALT, algorithm="sha256", fallback_keys=[]).unsign(token)
    except signing.BadSignature as e:
        raise TokenInvalid("The session token signature is not valid.") from e
    try:
        claims = SessionClaims(sid=uuid.UUID(hex=sid).hex, uid=int(uid), exp=int(exp))
    except ValueError as e:
        raise TokenInvalid("The session token is malformed.") from e
    if claims.exp <= now:
        raise TokenExpired("The session token has expired.")
    return claims


def peek_session_kid(token: str) -> str | None:
    value = token.rpartition(":")[0]
    parts = value.split(".")
    return parts[3] if len(parts) == 4 else None


# --- access token (JWT) ----------------------------------------------------------------


@dataclass(frozen=True)
class AccessClaims:
    sub: int
    sid: str
    jti: str
    tv: int
    exp: int
    iat: int
    name: str
    raw: dict[str, Any]


def make_access_token(
    ring: KeyRing, *, uid: int, sid: str, tv: int, name: str, iat: int, jti: str | None = None
) -> tuple[str, AccessClaims]:
    """Sign an access token. EdDSA is deterministic, so equal inputs give an identical token."""
    exp = iat + int(auth_settings.ACCESS_TOKEN_TTL.total_seconds())
    jti = jti or crypto.random_secret(16)
    claims: dict[str, Any] = {
        "iss": auth_settings.JWT_ISSUER,
        "aud": auth_settings.JWT_AUDIENCE,
        "sub": str(uid),
        "sid": sid,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "jti": jti,
        "tv": tv,
        "name": name,
        NAME_IDENTIFIER_CLAIM: str(uid),
    }
    key = ring.signing
    token = jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYP})
    return token, AccessClaims(sub=uid, sid=sid, jti=jti, tv=tv, exp=exp, iat=iat, name=name, raw=claims)


def read_access_token(ring: KeyRing, token: str) -> AccessClaims:
    """Verify signature, kid, algorithm, type, expiry, audience, issuer and required claims."""
    _check_length(token)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as e:
        raise TokenInvalid("The access token is malformed.") from e
    if header.get("alg") not in ACCESS_ALGORITHMS:
        raise TokenInvalid("The access token uses an algorithm this server does not accept.")
    if header.get("typ") != ACCESS_TOKEN_TYP:
        raise TokenInvalid("The token is not an access token.")
    key = ring.verifying(header.get("kid"))
    try:
        payload = jwt.decode(
            token,
            key.public,
            algorithms=ACCESS_ALGORITHMS,
            audience=auth_settings.JWT_AUDIENCE,
            issuer=auth_settings.JWT_ISSUER,
            leeway=auth_settings.JWT_LEEWAY,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as e:
        raise TokenExpired("The access token has expired.") from e
    except jwt.PyJWTError as e:
        raise TokenInvalid(f"The access token is not valid ({type(e).__name__}).") from e
    try:
        return AccessClaims(
            sub=int(payload["sub"]),
            sid=uuid.UUID(hex=str(payload["sid"])).hex,
            jti=str(payload["jti"]),
            tv=int(payload["tv"]),
            exp=int(payload["exp"]),
            iat=int(payload["iat"]),
            name=str(payload.get("name", "")),
            raw=payload,
        )
    except (ValueError, TypeError) as e:
        raise TokenInvalid("The access token claims are malformed.") from e


def peek_access_kid(token: str) -> object:
    try:
        return jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None


def deterministic_jti(sid: str, generation: int) -> str:
    """The jti of the access token handed out with refresh generation ``generation``."""
    return crypto.b64url(crypto.keyed_digest("access-jti", f"{sid}:{generation}")[:16])


# --- refresh token ---------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshParts:
    uid: int
    sid: str
    generation: int
    secret: str

    def encode(self) -> str:
        return f"{REFRESH_PREFIX}.{self.uid}.{self.sid}.{self.generation}.{self.secret}"


def parse_refresh_token(token: str) -> RefreshParts:
    if not token or len(token) > auth_settings.MAX_TOKEN_LENGTH:
        raise RefreshInvalid("The refresh token is empty or too long.")
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != REFRESH_PREFIX:
        raise RefreshInvalid("The refresh token is malformed.")
    try:
        uid, sid, gen = int(parts[1]), uuid.UUID(hex=parts[2]).hex, int(parts[3])
    except ValueError as e:
        raise RefreshInvalid("The refresh token is malformed.") from e
    if uid <= 0 or gen < 0 or not 20 <= len(parts[4]) <= 128:
        raise RefreshInvalid("The refresh token is malformed.")
    return RefreshParts(uid=uid, sid=sid, generation=gen, secret=parts[4])


def refresh_hash(secret: str) -> str:
    return crypto.secret_hmac("refresh-hash", secret)


def refresh_matches(secret: str, stored: str) -> bool:
    return crypto.secret_hmac_matches("refresh-hash", secret, stored)


def next_refresh(parts: RefreshParts) -> RefreshParts:
    """The successor of a refresh token: a keyed hash of it (deterministic, one-way)."""
    digest = crypto.keyed_digest("refresh-chain", f"{parts.sid}:{parts.generation}:{parts.secret}")
    return RefreshParts(uid=parts.uid, sid=parts.sid, generation=parts.generation + 1, secret=crypto.b64url(digest))


def new_refresh(*, uid: int, sid: str) -> RefreshParts:
    return RefreshParts(uid=uid, sid=sid, generation=0, secret=crypto.random_secret(32))


def epoch(dt: datetime) -> int:
    return int(dt.timestamp())
