"""Sign-in with Discord: the login redirect and the callback landing (HTML edge).

Failures answer with ``templates/error.html``: the status and stable code of
the error, what happened in words, and a "Try again" link; nothing is set
(no auth cookie) and nothing was created.
"""
from __future__ import annotations

from urllib.parse import urlencode

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from sessions_core import ratelimits, security_log
from sessions_core.conf import auth_settings
from sessions_core.errors import AuthError, StoreUnavailable
from signin.providers.config import origin_of
from signin.oauth_state import BINDING_COOKIE, BINDING_COOKIE_PATH
from signin.flow import DEFAULT_NEXT, safe_next, signin_begin, signin_finish, signin_take_state
from sessions_core.views.http import allow_methods, client_ip, set_auth_cookies, tokens_payload

TITLES = {
    "discord_denied": "Sign-in cancelled",
    "oauth_state_invalid": "This sign-in attempt has expired",
    "next_invalid": "That return address is not allowed",
    "rate_limited": "Too many sign-in attempts",
    "discord_unavailable": "Discord is not answering",
    "playfab_unavailable": "PlayFab is not answering",
    "discord_code_invalid": "Discord did not accept the sign-in",
    "store_unavailable": "The site is having trouble",
    "account_disabled": "This account is disabled",
}


def login_url(next_path: str = DEFAULT_NEXT) -> str:
    return "/auth/discord/login?" + urlencode({"next": next_path})


def error_page(request: HttpRequest, err: AuthError, *, retry_url: str | None) -> HttpResponse:
    """The HTML answer for ``err``: its status and code, a clear message, a way to try again."""
    retry_after = getattr(err, "retry_after", None)
    ctx = {
        "title": TITLES.get(err.code, "Sign-in failed"),
        "message": err.detail,
        "code": err.code,
        "retry_url": retry_url,
        "retry_after": retry_after,
    }
    resp = render(request, "error.html", ctx, status=err.status)
    if retry_after:
        resp["Retry-After"] = str(retry_after)
    resp["Cache-Control"] = "no-store"
    return resp


@allow_methods("GET")
async def discord_login(request: HttpRequest) -> HttpResponse:
    """``GET /auth/discord/login?next=``: redirect to Discord with state and PKCE (S256)."""
    raw_next = request.GET.get("next")
    try:
        await ratelimits.check(
            request, group="auth.login", rate=auth_settings.RATE_LOGIN, key=client_ip(request) or "unknown"
        )
        start = await signin_begin(
            origin=origin_of(request), next_path=raw_next, binding=request.COOKIES.get(BINDING_COOKIE)
        )
    except AuthError as e:
        security_log.event("signin.refused", error=e.code, ip=client_ip(request))
        try:
            retry = login_url(safe_next(raw_next))
        except AuthError:
            retry = login_url()
        return error_page(request, e, retry_url=retry)
    resp = HttpResponseRedirect(start.redirect_url)
    resp.set_cookie(
        BINDING_COOKIE, start.binding,
        max_age=int(auth_settings.OAUTH_STATE_TTL.total_seconds()),
        path=BINDING_COOKIE_PATH,
        secure=bool(auth_settings.COOKIE_SECURE),
        httponly=True,
        # Lax: the callback is a top-level navigation from Discord's site.
        samesite="Lax",
        domain=auth_settings.COOKIE_DOMAIN,
    )
    resp["Cache-Control"] = "no-store"
    return resp


@allow_methods("GET")
async def discord_callback(request: HttpRequest) -> HttpResponse:
    """``GET /auth/discord/callback``: finish the sign-in and land on ``next`` same-site.

    Answers 200 with a small page rather than a redirect: this request is a
    cross-site navigation from Discord, and SameSite=Strict cookies are not sent
    along a redirect chain that began on another site. The page stores the
    first access token where the browser modules look for it and then navigates
    to ``next`` itself, which is a fresh same-site navigation that carries the
    new cookies.
    """
    next_path = DEFAULT_NEXT
    try:
        pending = await signin_take_state(
            state=request.GET.get("state"), binding=request.COOKIES.get(BINDING_COOKIE)
        )
        next_path = pending.next
        tokens = await signin_finish(
            pending=pending,
            code=request.GET.get("code"),
            error=request.GET.get("error"),
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except (AuthError, DatabaseError) as e:
        err = e if isinstance(e, AuthError) else StoreUnavailable(
            "The database is unavailable; nothing was changed. Try again shortly."
        )
        security_log.event("signin.failed", error=err.code, ip=client_ip(request))
        resp = error_page(request, err, retry_url=login_url(next_path))
        resp["Referrer-Policy"] = "no-referrer"
        return resp
    payload = tokens_payload(tokens, refreshed=False)
    ctx = {
        "next": next_path,
        "payload": payload,
        "access_token": tokens.access_token,
        "access_expires_in": payload["access_expires_in"],
        "me": tokens.user,
    }
    resp = render(request, "signin_landing.html", ctx)
    set_auth_cookies(resp, tokens)
    resp["Cache-Control"] = "no-store"
    # The URL of this page carries the code and state: never send it onwards.
    resp["Referrer-Policy"] = "no-referrer"
    return resp

