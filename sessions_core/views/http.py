"""Wire helpers for the HTTP edge: JSON errors, cookies, the api decorator."""
from __future__ import annotations

import functools
import time
from typing import Any, Awaitable, Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse

from sessions_core.client_ip import client_ip
from sessions_core.conf import REFRESH_COOKIE, REFRESH_COOKIE_PATH, SESSION_COOKIE, SESSION_COOKIE_PATH, auth_settings
from sessions_core.errors import AuthError, MethodNotAllowed, RateLimited, StoreUnavailable
from sessions_core.services import IssuedTokens

__all__ = ["allow_methods", "api", "clear_auth_cookies", "client_ip", "error_response", "set_auth_cookies", "tokens_payload"]

View = Callable[..., Awaitable[HttpResponse]]
# What URLconf sees: django-stubs types views as sync callables.
Routable = Callable[..., Any]


def error_response(err: AuthError) -> JsonResponse:
    resp = JsonResponse(err.as_dict(), status=err.status)
    if isinstance(err, RateLimited):
        resp["Retry-After"] = str(err.retry_after)
    elif isinstance(err, StoreUnavailable):
        resp["Retry-After"] = str(err.retry_after)
    resp["Cache-Control"] = "no-store"
    return resp


def api(view: View) -> Routable:
    """Turn ``AuthError`` (and database outages) into JSON answers with stable codes."""

    @functools.wraps(view)
    async def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            resp = await view(request, *args, **kwargs)
        except AuthError as e:
            resp = error_response(e)
            if e.definitive:
                clear_auth_cookies(resp)
        except DatabaseError:
            resp = error_response(StoreUnavailable("The database is unavailable; nothing was changed. Retry shortly."))
        resp["Cache-Control"] = "no-store"
        return resp

    return wrapped


def allow_methods(*methods: str) -> Callable[[Routable], Routable]:
    """Like Django's ``require_http_methods`` for async views, but the 405 is the API's
    JSON error (``{"error": "method_not_allowed", ...}``) with an ``Allow`` header."""
    allowed = [m.upper() for m in methods]

    def decorator(view: Routable) -> Routable:
        @functools.wraps(view)
        async def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in allowed:
                resp = error_response(MethodNotAllowed(f"Use {' or '.join(allowed)}."))
                resp["Allow"] = ", ".join(allowed)
                return resp
            response: HttpResponse = await view(request, *args, **kwargs)
            return response

        return wrapped

    return decorator


def _cookie_kwargs(path: str) -> dict[str, Any]:
    return {
        "path": path,
        "secure": bool(auth_settings.COOKIE_SECURE),
        "httponly": True,
        "samesite": auth_settings.COOKIE_SAMESITE,
        "domain": auth_settings.COOKIE_DOMAIN,
    }


def set_auth_cookies(resp: HttpResponse, tokens: IssuedTokens) -> None:
    now = int(time.time())
    resp.set_cookie(
        SESSION_COOKIE, tokens.session_token, max_age=max(0, tokens.session_token_exp - now),
        **_cookie_kwargs(SESSION_COOKIE_PATH),
    )
    resp.set_cookie(
        REFRESH_COOKIE, tokens.refresh_token, max_age=max(0, tokens.refresh_exp - now),
        **_cookie_kwargs(REFRESH_COOKIE_PATH),
    )


def clear_auth_cookies(resp: HttpResponse) -> None:
    for name, path in ((SESSION_COOKIE, SESSION_COOKIE_PATH), (REFRESH_COOKIE, REFRESH_COOKIE_PATH)):
        resp.delete_cookie(name, path=path, domain=auth_settings.COOKIE_DOMAIN, samesite=auth_settings.COOKIE_SAMESITE)
    # delete_cookie does not set HttpOnly/Secure; re-flag the expired cookies.
    for name in (SESSION_COOKIE, REFRESH_COOKIE):
        resp.cookies[name]["httponly"] = True
        resp.cookies[name]["secure"] = bool(auth_settings.COOKIE_SECURE)


def tokens_payload(tokens: IssuedTokens, *, refreshed: bool) -> dict[str, Any]:
    now = int(time.time())
    return {
        "valid": True,
        "refreshed": refreshed,
        "user": tokens.user,
        "session": {
            "id": tokens.session_id,
            # Epoch seconds, as /auth/validate answers: one wire format per field.
            "expires_at": int(tokens.session_expires_at.timestamp()),
            "absolute_expires_at": int(tokens.absolute_expires_at.timestamp()),
        },
        "session_token_expires_in": max(0, tokens.session_token_exp - now),
        "access_token": tokens.access_token,
        "access_expires_in": max(0, tokens.access_exp - now),
        "server_time": now,
    }
