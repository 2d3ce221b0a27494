"""Access-token authentication for the hub: the one check the handshake, the
negotiate endpoint and ``RenewToken`` share.

Signature, ``kid``, algorithm allow-list, ``typ``, expiry, audience, issuer and
required claims (:func:`sessions_core.tokens.read_access_token`); then, in one
Redis round trip, ``jti`` not blacklisted, session live, token version current
(:func:`sessions_core.store.acheck_access`). A Redis miss rehydrates the session
from SQL and checks again: a Redis flush signs nobody out.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import DatabaseError, close_old_connections

from sessions_core import keys, store
from sessions_core.errors import NotAuthenticated, SessionRevoked, StoreUnavailable, TokenExpired, TokenInvalid
from sessions_core.services import session_rehydrate
from sessions_core.tokens import AccessClaims, peek_access_kid, read_access_token


T = TypeVar("T")


async def db_call(fn: Callable[..., T], **kwargs: Any) -> T:
    """Run sync database work on asgiref's thread, with Django's connection hygiene around it.

    The hub consumer does not close old connections on every message (Channels'
    default, a thread hop each); the rare paths that touch SQL do it here instead.
    """

    def call() -> T:
        close_old_connections()
        try:
            return fn(**kwargs)
        finally:
            close_old_connections()

    return await sync_to_async(call)()


@dataclass(frozen=True)
class HubPrincipal:
    """Who a hub connection speaks for, from its (latest) access token."""

    uid: int
    sid: str
    jti: str
    tv: int
    exp: int
    name: str

    @classmethod
    def from_claims(cls, claims: AccessClaims) -> "HubPrincipal":
        return cls(uid=claims.sub, sid=claims.sid, jti=claims.jti, tv=claims.tv, exp=claims.exp, name=claims.name)


async def _verify(token: str) -> AccessClaims:
    ring = await keys.aget_keyring()
    try:
        return read_access_token(ring, token)
    except TokenExpired:
        raise
    except TokenInvalid:
        # A kid we do not know may be a key another process just rotated in;
        # reload at most once a second (kid is attacker input, keys.py).
        if not await db_call(keys.reload_for_unknown_kid, kid=peek_access_kid(token)):
            raise
        return read_access_token(await keys.aget_keyring(), token)


async def check_session(principal: HubPrincipal) -> None:
    """Is the principal's token still good in Redis? Raises ``SessionRevoked``/``SessionExpired``/``StoreUnavailable``."""
    ok = await store.acheck_access(principal.uid, principal.sid, principal.jti, principal.tv)
    if ok is None:
        try:
            found = await db_call(session_rehydrate, uid=principal.uid, sid=principal.sid)
        except DatabaseError as e:
            raise StoreUnavailable() from e
        if not found:
            raise SessionRevoked("No such session.", reason="unknown")
        if await store.acheck_access(principal.uid, principal.sid, principal.jti, principal.tv) is None:
            raise StoreUnavailable()


async def authenticate_access_token(token: str | None) -> HubPrincipal:
    """The principal of a valid access token; raises the ``AuthError`` that says why not.

    Raises ``NotAuthenticated`` (no token), ``TokenInvalid``/``TokenExpired``,
    ``SessionRevoked`` (blacklisted jti, revoked session, bumped token version),
    ``SessionExpired`` or ``StoreUnavailable``.
    """
    principal = await verify_access_token(token)
    await check_session(principal)
    return principal


async def verify_access_token(token: str | None) -> HubPrincipal:
    """The token's own checks only (no Redis); raises ``NotAuthenticated``/``TokenInvalid``/``TokenExpired``."""
    if not token:
        raise NotAuthenticated("No access token was presented.")
    return HubPrincipal.from_claims(await _verify(token))
