"""Who a hub connection speaks for.

Every check is :mod:`sessions_core.services.authenticate`'s, shared with the HTTP
middleware: the token's own checks, then (one Redis round trip, SQL only on a
miss) ``jti`` not blacklisted, session live, token version current.
"""
from __future__ import annotations

from dataclasses import dataclass

from sessions_core.services import authenticate
from sessions_core.tokens import AccessClaims


@dataclass(frozen=True)
class HubPrincipal:
    """Who a hub connection speaks for, from its (latest) access token."""

    uid: int
    sid: str
    jti: str
    tv: int
    exp: int
    name: str
    # The refresh generation the token was issued with (None: the token names none).
    generation: int | None = None

    @classmethod
    def from_claims(cls, claims: AccessClaims) -> "HubPrincipal":
        return cls(
            uid=claims.sub, sid=claims.sid, jti=claims.jti, tv=claims.tv, exp=claims.exp, name=claims.name,
            generation=claims.generation,
        )


async def check_session(principal: HubPrincipal) -> None:
    """Is the principal's token still good? Raises ``SessionRevoked``/``SessionExpired``/``StoreUnavailable``."""
    await authenticate.check_access_of(
        uid=principal.uid, sid=principal.sid, jti=principal.jti, tv=principal.tv, generation=principal.generation
    )


async def authenticate_access_token(token: str | None) -> HubPrincipal:
    """The principal of a valid access token; raises the ``AuthError`` that says why not.

    Raises ``NotAuthenticated`` (no token), ``TokenInvalid``/``TokenExpired``,
    ``SessionRevoked`` (blacklisted jti, revoked session, bumped token version),
    ``SessionExpired`` or ``StoreUnavailable``.
    """
    return HubPrincipal.from_claims(await authenticate.authenticate_access_token(token))


async def verify_access_token(token: str | None) -> HubPrincipal:
    """The token's own checks only (no Redis); raises ``NotAuthenticated``/``TokenInvalid``/``TokenExpired``."""
    return HubPrincipal.from_claims(await authenticate.verify_access_token(token))
