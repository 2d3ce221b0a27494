"""Async session-token authentication for every HTTP request.

Three outcomes on ``request.auth``: anonymous (no cookie), authenticated (a
:class:`~sessions_core.store.Validated`), or rejected with the error that says
why. The hot path is one HMAC check and one Redis round trip; SQL is touched only
on a Redis miss (rehydration) and at most once a minute to flush activity.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from asgiref.sync import markcoroutinefunction, sync_to_async
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponseBase

from . import keys, metrics, store
from .conf import SESSION_COOKIE
from .errors import AuthError, NotAuthenticated, SessionRevoked, StoreUnavailable, TokenInvalid
from .services import session_flush_activity, session_rehydrate
from .tokens import SessionClaims, peek_session_kid, read_session_token


@dataclass(frozen=True)
class AuthContext:
    session: store.Validated | None = None
    error: AuthError | None = None
    # Expiry (epoch s) of the session token that authenticated the request.
    token_exp: int = 0

    @property
    def authenticated(self) -> bool:
        return self.session is not None

    def require(self) -> store.Validated:
        """The validated session, or raise why there is none."""
        if self.session is not None:
            return self.session
        raise self.error or NotAuthenticated()


ANONYMOUS = AuthContext()


async def _claims(token: str) -> SessionClaims:
    ring = await keys.aget_keyring()
    try:
        return read_session_token(ring, token, now=time.time())
    except TokenInvalid:
        kid = peek_session_kid(token)
        if not await sync_to_async(keys.reload_for_unknown_kid)(kid):
            raise
        return read_session_token(await keys.aget_keyring(), token, now=time.time())


@metrics.timed_validate
async def authenticate_session_token(token: str) -> tuple[SessionClaims, store.Validated]:
    """Verify a session token and its session; raises an ``AuthError`` saying why not."""
    claims = await _claims(token)
    validated = await store.avalidate(claims.uid, claims.sid)
    if validated is None:
        try:
            found = await sync_to_async(session_rehydrate)(uid=claims.uid, sid=claims.sid)
        except DatabaseError as e:
            raise StoreUnavailable() from e
        if not found:
            raise SessionRevoked("No such session.", reason="unknown")
        validated = await store.avalidate(claims.uid, claims.sid)
        if validated is None:
            raise StoreUnavailable()
    if validated.flush_due:
        try:
            await sync_to_async(session_flush_activity)(sid=claims.sid, last_active_ms=store.now_ms())
        except DatabaseError:
            # Activity is already in Redis; the next flush carries it to SQL.
            pass
    return claims, validated


class SessionTokenMiddleware:
    """Sets ``request.auth`` (an :class:`AuthContext`) from the session cookie."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> Any:
        token = request.COOKIES.get(SESSION_COOKIE)
        if not token:
            request.auth = ANONYMOUS  # type: ignore[attr-defined]
        else:
            try:
                claims, validated = await authenticate_session_token(token)
                request.auth = AuthContext(session=validated, token_exp=claims.exp)  # type: ignore[attr-defined]
            except AuthError as e:
                request.auth = AuthContext(error=e)  # type: ignore[attr-defined]
        return await self.get_response(request)
