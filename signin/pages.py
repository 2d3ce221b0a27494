"""Server-rendered pages: the landing (sign-in) page and the app page.

``/app`` with a valid session renders the user and their sessions. Without one,
it cannot tell "signed out" from "session cookie lapsed, refresh cookie alive":
the refresh cookie is scoped to ``/auth/`` and never reaches ``/app``. So it
renders a small restore page whose script asks ``/auth/validate`` (which
refreshes when it can, under the browser modules' cross-tab lock) and reloads,
or goes to ``/`` when the server says the session is over. Only a session the
server already knows is over (revoked, expired) is sent straight to ``/``.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

from sessions_core import selectors
from sessions_core.conf import auth_settings
from sessions_core.errors import StoreUnavailable
from sessions_core.middleware import AuthContext
from sessions_core.views.http import clear_auth_cookies
from signin.views import error_page, login_url

_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (
    ("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("CrOS", "ChromeOS"),
    ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Linux", "Linux"),
)


def describe_device(user_agent: str) -> str:
    """A short "Browser on System" for a User-Agent string (display only, never trusted)."""
    browser = next((name for token, name in _BROWSERS if token in user_agent), "")
    system = next((name for token, name in _SYSTEMS if token in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system
    short = re.sub(r"\s+", " ", user_agent).strip()[:40]
    return short or "Unknown device"


def _auth(request: HttpRequest) -> AuthContext:
    return getattr(request, "auth", AuthContext())


def _no_store(resp: HttpResponse) -> HttpResponse:
    resp["Cache-Control"] = "no-store"
    return resp


def signed_out_message(flag: str) -> str:
    """Why this browser was signed out, in words, for the ``?signed_out=`` flag the browser
    code adds (static/js/signed-out.js). The flag only picks one of these fixed texts;
    anything else shows nothing."""
    messages = {
        "you": "You signed out.",
        "everywhere": "You signed out on all your devices.",
        "elsewhere": "You were signed out from another device.",
        "admin": "You were signed out by an administrator.",
        "evicted": (
            f"You were signed out because you signed in on another device: you can be signed in on "
            f"{auth_settings.MAX_SESSIONS_PER_USER} devices at once, and this one was used least recently."
        ),
        "expired": "Your session expired. Sign in again to carry on.",
        "security": "You were signed out to keep your account safe. Sign in again to carry on.",
    }
    return messages.get(flag, "")


@require_safe
@ensure_csrf_cookie
async def landing(request: HttpRequest) -> HttpResponse:
    """The sign-in page; sets ``csrftoken`` for anonymous visitors."""
    ctx = {
        "signed_in": _auth(request).session is not None,
        "login_url": login_url(),
        "fake_providers": auth_settings.fake_providers,
        "signed_out": signed_out_message(request.GET.get("signed_out", "")),
    }
    return _no_store(render(request, "landing.html", ctx))


def _session_rows(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for s in raw:
        created: datetime | None = parse_datetime(s["created_at"])
        last: datetime | None = parse_datetime(s["last_active_at"])
        rows.append({**s, "device_name": describe_device(s["device"] or ""), "created": created, "last_active": last})
    return rows


@require_safe
@ensure_csrf_cookie
async def app_page(request: HttpRequest) -> HttpResponse:
    """The signed-in page: the user, their sessions, connection state and who is online."""
    ctx = _auth(request)
    if ctx.session is None:
        if isinstance(ctx.error, StoreUnavailable):
            return error_page(request, ctx.error, retry_url=request.get_full_path())
        if ctx.error is not None and ctx.error.definitive:
            resp = HttpResponseRedirect("/")
            clear_auth_cookies(resp)
            return _no_store(resp)
        return _no_store(render(request, "restore.html", {"login_url": login_url()}))
    s = ctx.session
    sessions = await sync_to_async(selectors.sessions_of_user)(uid=s.uid, current_sid=s.sid)
    me = {
        "id": s.uid, "username": s.username, "display_name": s.display_name,
        "avatar_url": s.avatar_url, "playfab_id": s.playfab_id,
        "initial": (s.display_name or s.username or "?")[:1].upper(),
    }
    page = {
        "me": me,
        "sessions": _session_rows(sessions),
        "heartbeat_ms": int(auth_settings.HEARTBEAT_INTERVAL.total_seconds() * 1000),
    }
    return _no_store(render(request, "app.html", page))


@require_safe
async def sessions_part(request: HttpRequest) -> HttpResponse:
    """The app page's session list alone (``<li>``s), which the page re-reads on the hub's
    ``sessionsChanged``. Without a session: 401 and the cookies left alone, since clearing
    them would race the page's own sign-out, which learns why from /auth/validate."""
    s = _auth(request).session
    if s is None:
        return _no_store(HttpResponse(status=401))
    sessions = await sync_to_async(selectors.sessions_of_user)(uid=s.uid, current_sid=s.sid)
    return _no_store(render(request, "_sessions.html", {"sessions": _session_rows(sessions)}))
