"""Async session-token authentication for every HTTP request.

Three outcomes on ``request.auth``: anonymous (no cookie), authenticated (a
:class:`~sessions_core.store.Validated`), or rejected with the error that says
why. The hot path is one HMAC check and one Redis round trip; SQL is touched only
on a Redis miss (rehydration) and at most once a minute to flush activity.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from asgiref.sync import markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from sessions_core import store
from sessions_core.conf import SESSION_COOKIE
from sessions_core.errors import AuthError, NotAuthenticated
from sessions_core.services.authenticate import authenticate_session_token


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
