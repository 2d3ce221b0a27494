"""The access token: a JWT for the realtime hub only.

EdDSA only (a fixed allow-list, RFC 8725 §3.1), ``typ: at+jwt`` (RFC 9068 §2.1),
``kid`` header, audience = the hub. Claim ``rg``: the refresh generation the
token was issued with (its use marks that generation in use, see
``services/refresh.py``); tokens minted before the claim existed carry none and
record no use.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from sessions_core.conf import NAME_IDENTIFIER_CLAIM, auth_settings
from sessions_core.errors import TokenExpired, TokenInvalid
from sessions_core.tokens import crypto
from sessions_core.tokens.session import check_length as _check_length
from sessions_core.tokens.signing_keys import KeyRing

ACCESS_TOKEN_TYP = "at+jwt"
ACCESS_ALGORITHMS = ["EdDSA"]
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub", "sid", "jti", "tv"]


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
    # The refresh generation it was issued with (claim ``rg``); None when absent.
    generation: int | None = None


def make_access_token(
    ring: KeyRing, *, uid: int, sid: str, tv: int, name: str, iat: int, generation: int | None = None, jti: str | None = None
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
    if generation is not None:
        claims["rg"] = generation
    key = ring.signing
    token = jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYP})
    return token, AccessClaims(
        sub=uid, sid=sid, jti=jti, tv=tv, exp=exp, iat=iat, name=name, raw=claims, generation=generation
    )


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
        rg = payload.get("rg")
        # bool is an int subclass: refuse it, and anything negative, as malformed.
        if rg is not None and (isinstance(rg, bool) or not isinstance(rg, int) or rg < 0):
            raise ValueError("bad rg claim")
        return AccessClaims(
            sub=int(payload["sub"]),
            sid=uuid.UUID(hex=str(payload["sid"])).hex,
            jti=str(payload["jti"]),
            tv=int(payload["tv"]),
            exp=int(payload["exp"]),
            iat=int(payload["iat"]),
            name=str(payload.get("name", "")),
            raw=payload,
            generation=rg,
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
