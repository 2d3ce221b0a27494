"""The one error hierarchy of authsite.

Each error class fixes its stable ``code`` (the ``error`` field of a JSON answer),
its HTTP ``status`` and the WebSocket/SignalR close it maps to, as simplejwt's
``InvalidToken`` does; an instance may change only the human ``detail``. Only the
edges (views, middleware, hub consumer) turn these into wire output.

Every class registers its code in :data:`ERROR_CODES` when it is defined (apps
above the core add theirs: ``signin.errors``, ``realtime.errors``): that registry
is the one closed list of codes, and tests hold the README's table and the
browser's ``errors.js`` to it.
"""
from __future__ import annotations

from typing import Any

# code -> the class that owns it (filled by AuthError.__init_subclass__).
ERROR_CODES: dict[str, type["AuthError"]] = {}


class AuthError(Exception):
    """Base of every error authsite raises on purpose."""

    code = "auth_error"
    status = 400
    detail = "The request could not be completed."
    # Whether the browser should treat this as "signed out for good".
    definitive = False
    # Whether a SignalR close for this error allows the client to reconnect.
    allow_reconnect = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        owner = ERROR_CODES.get(cls.code)
        if owner is not None and not issubclass(cls, owner):
            raise TypeError(f"error code {cls.code!r} of {cls.__qualname__} is already {owner.__qualname__}'s")
        if owner is None or "code" in cls.__dict__:
            ERROR_CODES[cls.code] = cls

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.detail
        super().__init__(self.detail)

    def as_dict(self) -> dict[str, str]:
        return {"error": self.code, "detail": self.detail}


ERROR_CODES[AuthError.code] = AuthError


class BadRequest(AuthError):
    """Malformed input."""

    code = "bad_request"
    status = 400
    detail = "The request is malformed."


class NotAuthenticated(AuthError):
    """No credential was presented."""

    code = "not_authenticated"
    status = 401
    detail = "Sign in first."
    definitive = True


class TokenInvalid(AuthError):
    """A token failed parsing, signature, key id, algorithm, audience or type checks."""

    code = "token_invalid"
    status = 401
    detail = "The token is not valid."


class TokenExpired(TokenInvalid):
    """A token's signature is good but its lifetime is over."""

    code = "token_expired"
    detail = "The token has expired."
    allow_reconnect = True


class SessionExpired(AuthError):
    """The session ended by idle timeout or its absolute lifetime."""

    code = "session_expired"
    status = 401
    detail = "The session has expired; sign in again."
    definitive = True


class SessionRevoked(AuthError):
    """The session was ended (logout, admin, eviction, reuse, token version)."""

    code = "session_revoked"
    status = 401
    detail = "The session has been ended; sign in again."
    definitive = True

    def __init__(self, detail: str | None = None, *, reason: str = "revoked") -> None:
        super().__init__(detail)
        self.reason = reason

    def as_dict(self) -> dict[str, str]:
        # Why (a RevokeReason value): the browser tells the player ("signed out by an administrator").
        return {**super().as_dict(), "reason": str(self.reason)}


class AccountDisabled(AuthError):
    """The user's account is deactivated: no sign-in, refresh or hub connection."""

    code = "account_disabled"
    # 401 like every definitive answer: the browser signs out on it (static/js/errors.js).
    status = 401
    detail = "This account has been disabled; contact the site's administrators."
    definitive = True


class RefreshInvalid(AuthError):
    """A refresh token that is not one this server issued for the session."""

    code = "refresh_invalid"
    status = 401
    detail = "The refresh token is not valid."


class RefreshReused(SessionRevoked):
    """A rotated refresh token came back after the grace window: the session is revoked."""

    code = "refresh_reused"
    detail = "This refresh token was already used; the session has been ended for safety."


class CsrfFailed(AuthError):
    """A state-changing call without a valid CSRF token (Django's check)."""

    code = "csrf_failed"
    status = 403
    detail = "The request did not carry this site's CSRF token; reload the page and try again."


class Forbidden(AuthError):
    """The caller may not see this (metrics outside the allowed networks, without the token)."""

    code = "forbidden"
    status = 403
    detail = "Not allowed."


class NotFound(AuthError):
    code = "not_found"
    status = 404
    detail = "Not found."


class MethodNotAllowed(AuthError):
    """The endpoint does not answer this HTTP method (the ``Allow`` header lists those it does)."""

    code = "method_not_allowed"
    status = 405
    detail = "This endpoint does not accept that HTTP method."


class RateLimited(AuthError):
    code = "rate_limited"
    status = 429
    detail = "Too many requests; retry later."

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail)
        self.retry_after = max(1, int(retry_after))


class StoreUnavailable(AuthError):
    """Redis or the database cannot be reached: nothing was changed, retry."""

    code = "store_unavailable"
    status = 503
    detail = "The session store is unavailable; nothing was changed. Retry shortly."
    allow_reconnect = True
    retry_after = 2


class ProviderError(AuthError):
    """An identity provider (Discord, PlayFab) failed or refused."""

    code = "provider_error"
    status = 502
    detail = "The sign-in provider failed."
    retry_after: int | None = None


class ProviderUnavailable(ProviderError):
    """A provider timed out, failed (5xx) or throttled (429) past the retry budget: retry later."""

    code = "provider_unavailable"
    status = 503
    detail = "The sign-in provider is unavailable right now; nothing was changed. Try again shortly."

    def __init__(self, detail: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after = max(1, int(retry_after)) if retry_after else None


class ProviderDenied(ProviderError):
    """The user declined on the provider's consent page (RFC 6749 section 4.1.2.1, ``access_denied``)."""

    code = "discord_denied"
    status = 403
    detail = "Sign-in was cancelled on Discord; nothing was changed."


class OAuthStateInvalid(AuthError):
    """The OAuth ``state`` is missing, unknown, used, expired or from another browser."""

    code = "oauth_state_invalid"
    status = 400
    detail = (
        "This sign-in attempt is no longer valid (it was already used, it expired, "
        "or it was started in another browser). Start again."
    )


class NextInvalid(BadRequest):
    """``next`` is not a path on this site (open-redirect guard)."""

    code = "next_invalid"
    detail = "The page to return to after signing in must be a page of this site."


def all_error_codes() -> dict[str, type[AuthError]]:
    """Every registered code (the apps' error modules are imported first, so the list is whole)."""
    from importlib import import_module

    for module in ("signin.errors", "realtime.errors"):
        try:
            import_module(module)
        except ImportError:  # an app that is not installed has no codes to add
            pass
    return dict(ERROR_CODES)
