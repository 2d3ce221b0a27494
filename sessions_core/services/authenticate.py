"""The one way a credential becomes a session: validate, the store's check (which
rebuilds from SQL on a miss), then the activity flush when it is due.

Used alike by the HTTP middleware (session token), the hub's handshake, negotiate
and ``RenewToken`` (access token) and the hub's heartbeat. Every function raises
the ``AuthError`` that says why a credential is refused; none returns ``None``.
"""
from __future__ import annotations

import time

from django.db import DatabaseError

from sessions_core import store
from sessions_core.db import db_call
from sessions_core.errors import NotAuthenticated, TokenExpired, TokenInvalid
from sessions_core.instrument import timed
from sessions_core.services.sessions import session_flush_activity, session_mark_generation_in_use
from sessions_core.tokens import (
    AccessClaims, SessionClaims, peek_access_kid, peek_session_kid, read_access_token, read_session_token,
)
from sessions_core.tokens import signing_keys


async def _flush_if_due(validated: store.Validated) -> None:
    if not validated.flush_due:
        return
    try:
        await db_call(
            session_flush_activity, sid=validated.sid, last_active_ms=store.now_ms(),
            generation_in_use=validated.generation_in_use,
        )
    except DatabaseError:
        # Activity (and the generation in use) is already in Redis; the next flush
        # carries it to SQL. Only a Redis flush before then would lose it.
        pass


async def _reload_for(kid: object) -> bool:
    """A kid we do not know may be a key another process just rotated in; reload
    at most once a second (kid is attacker input, see signing_keys)."""
    return await db_call(signing_keys.reload_for_unknown_kid, kid=kid)


async def _session_claims(token: str) -> SessionClaims:
    try:
        return read_session_token(await signing_keys.aget_keyring(), token, now=time.time())
    except TokenExpired:
        raise
    except TokenInvalid:
        if not await _reload_for(peek_session_kid(token)):
            raise
        return read_session_token(await signing_keys.aget_keyring(), token, now=time.time())


@timed("validate")
async def authenticate_session_token(token: str) -> tuple[SessionClaims, store.Validated]:
    """Verify a session token and its session, recording the activity.

    Raises ``TokenInvalid``/``TokenExpired``, ``SessionRevoked``, ``SessionExpired``
    or ``StoreUnavailable``.
    """
    claims = await _session_claims(token)
    validated = await store.avalidate(claims.uid, claims.sid, claims.generation)
    await _flush_if_due(validated)
    return claims, validated


async def verify_access_token(token: str | None) -> AccessClaims:
    """The access token's own checks only (no store): signature, ``kid``, algorithm,
    type, expiry, audience, issuer, required claims.

    Raises ``NotAuthenticated`` (no token), ``TokenInvalid`` or ``TokenExpired``.
    """
    if not token:
        raise NotAuthenticated("No access token was presented.")
    try:
        return read_access_token(await signing_keys.aget_keyring(), token)
    except TokenExpired:
        raise
    except TokenInvalid:
        if not await _reload_for(peek_access_kid(token)):
            raise
        return read_access_token(await signing_keys.aget_keyring(), token)


async def check_access_of(*, uid: int, sid: str, jti: str, tv: int, generation: int | None = None) -> None:
    """Is an access token's session still good: ``jti`` not blacklisted, session live,
    token version current. Records the token's refresh ``generation`` as in use (in
    Redis, and at once in SQL the first time). Raises ``SessionRevoked``,
    ``SessionExpired`` or ``StoreUnavailable``."""
    if await store.acheck_access(uid, sid, jti, tv, generation) and generation is not None:
        try:
            await db_call(session_mark_generation_in_use, sid=sid, generation=generation)
        except DatabaseError:
            pass  # Redis has it; see _flush_if_due.


async def authenticate_access_token(token: str | None) -> AccessClaims:
    """:func:`verify_access_token`, then :func:`check_access_of`."""
    claims = await verify_access_token(token)
    await check_access_of(uid=claims.sub, sid=claims.sid, jti=claims.jti, tv=claims.tv, generation=claims.generation)
    return claims


async def session_touch(*, uid: int, sid: str, generation: int | None = None) -> store.Validated:
    """A heartbeat: check the session and record its activity (flushed to SQL when due)."""
    validated = await store.avalidate(uid, sid, generation)
    await _flush_if_due(validated)
    return validated
