"""The JSON HTTP API (DESIGN.md, "HTTP API"). Thin: each view calls one service."""
from __future__ import annotations

import time
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from sessions_core import ratelimits, selectors, store

from sessions_core.tokens import signing_keys
from sessions_core.conf import REFRESH_COOKIE, auth_settings
from sessions_core.errors import NotAuthenticated, NotFound, RefreshInvalid, SessionExpired, StoreUnavailable, TokenInvalid
from sessions_core.middleware import AuthContext
from sessions_core.models import RevokeReason, User
from sessions_core.services import access_token_mint, session_refresh, session_revoke, session_revoke_all
from sessions_core.services.issue import user_info
from sessions_core.tokens import parse_refresh_token, read_access_token
from sessions_core.views.http import allow_methods, api, clear_auth_cookies, client_ip, set_auth_cookies, tokens_payload


def _auth(request: HttpRequest) -> AuthContext:
    return getattr(request, "auth", AuthContext())


async def _refresh_response(request: HttpRequest, token: str) -> JsonResponse:
    """Rotate (or replay inside the grace window) and answer with the new token set.

    Refused tokens (malformed, forged, unknown) are counted per client IP and per
    session id, and past ``RATE_REFRESH_FAILURES`` either key gets 429 before any
    work: each forged token could otherwise cost an ancestor walk.
    """
    ip = client_ip(request)
    fail_rate, fail_group = auth_settings.RATE_REFRESH_FAILURES, "auth.refresh_fail"
    ip_key = f"ip:{ip or 'unknown'}"
    await ratelimits.check(request, group=fail_group, rate=fail_rate, key=ip_key, increment=False)
    try:
        parts = parse_refresh_token(token)
    except RefreshInvalid:
        await ratelimits.count(request, group=fail_group, rate=fail_rate, key=ip_key)
        raise
    sid_key = f"sid:{parts.sid}"
    await ratelimits.check(request, group=fail_group, rate=fail_rate, key=sid_key, increment=False)
    rate, group = auth_settings.RATE_REFRESH, "auth.refresh"
    await ratelimits.check(request, group=group, rate=rate, key=parts.sid, increment=False)
    try:
        outcome = await sync_to_async(session_refresh)(refresh_token=token, ip=ip)
    except RefreshInvalid:
        await ratelimits.count(request, group=fail_group, rate=fail_rate, key=ip_key)
        await ratelimits.count(request, group=fail_group, rate=fail_rate, key=sid_key)
        raise
    if outcome.kind == "rotated":
        await ratelimits.count(request, group=group, rate=rate, key=parts.sid)
    resp = JsonResponse(tokens_payload(outcome.tokens, refreshed=True))
    set_auth_cookies(resp, outcome.tokens)
    return resp


@allow_methods("POST")
@api
async def validate(request: HttpRequest) -> HttpResponse:
    """Current session state; refreshes instead of answering 401 when the refresh cookie is good."""
    ctx = _auth(request)
    if ctx.session is not None:
        s = ctx.session
        return JsonResponse(
            {
                "valid": True,
                "refreshed": False,
                "user": user_info(s.uid, s.username, s.display_name, s.avatar_url, s.playfab_id),
                "session": {"id": s.sid, "expires_at": s.expires_ms // 1000, "absolute_expires_at": s.absolute_ms // 1000},
                "session_token_expires_in": max(0, ctx.token_exp - int(time.time())),
                "access_token": None,
                "access_expires_in": None,
                "server_time": int(time.time()),
            }
        )
    if isinstance(ctx.error, StoreUnavailable):
        raise ctx.error
    token = request.COOKIES.get(REFRESH_COOKIE)
    if not token:
        raise ctx.error if ctx.error and ctx.error.definitive else NotAuthenticated()
    try:
        return await _refresh_response(request, token)
    except RefreshInvalid as e:
        raise SessionExpired("The session could not be restored; sign in again.") from e


@allow_methods("POST")
@api
async def refresh(request: HttpRequest) -> HttpResponse:
    token = request.COOKIES.get(REFRESH_COOKIE)
    if not token:
        raise NotAuthenticated("No refresh token; sign in again.")
    return await _refresh_response(request, token)


@allow_methods("POST")
@api
async def token(request: HttpRequest) -> HttpResponse:
    """A fresh access token for the hub (the ``accessTokenFactory`` target)."""
    s = _auth(request).require()
    await ratelimits.check(request, group="auth.token", rate=auth_settings.RATE_TOKEN, key=s.sid)
    access, exp = await sync_to_async(access_token_mint)(
        uid=s.uid, sid=s.sid, token_version=s.token_version, name=s.display_name, generation=s.generation
    )
    now = int(time.time())
    return JsonResponse({"access_token": access, "access_expires_in": max(0, exp - now), "server_time": now})


@allow_methods("POST")
@api
async def activity(request: HttpRequest) -> HttpResponse:
    """Heartbeat: authenticating the request already recorded the activity in Redis."""
    _auth(request).require()
    return JsonResponse({"ok": True, "server_time": int(time.time())})


async def _revoke_presented_access_token(request: HttpRequest) -> None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return
    try:
        claims = read_access_token(await signing_keys.aget_keyring(), header[7:].strip())
    except TokenInvalid:
        return
    await sync_to_async(store.blacklist_jti)(uid=claims.sub, jti=claims.jti, exp=claims.exp)


@allow_methods("POST")
@api
async def logout(request: HttpRequest) -> HttpResponse:
    """End this session (and blacklist a presented access token); always clears the cookies."""
    ctx = _auth(request)
    if ctx.session is not None:
        row = await selectors.aget_session(sid=ctx.session.sid, uid=ctx.session.uid)
        if row is not None:
            await sync_to_async(session_revoke)(session=row, reason=RevokeReason.LOGOUT)
    else:
        if isinstance(ctx.error, StoreUnavailable):
            raise ctx.error
        row = await sync_to_async(selectors.session_for_refresh_cookie)(request.COOKIES.get(REFRESH_COOKIE))
        if row is not None:
            await sync_to_async(session_revoke)(session=row, reason=RevokeReason.LOGOUT)
    await _revoke_presented_access_token(request)
    resp = JsonResponse({"ok": True})
    clear_auth_cookies(resp)
    return resp


@allow_methods("POST")
@api
async def logout_all(request: HttpRequest) -> HttpResponse:
    s = _auth(request).require()
    user = await User.objects.aget(pk=s.uid)
    ended = await sync_to_async(session_revoke_all)(user=user, reason=RevokeReason.LOGOUT_ALL)
    await _revoke_presented_access_token(request)
    resp = JsonResponse({"ok": True, "ended": ended})
    clear_auth_cookies(resp)
    return resp


@allow_methods("GET")
@api
async def sessions(request: HttpRequest) -> HttpResponse:
    s = _auth(request).require()
    rows = await sync_to_async(selectors.sessions_of_user)(uid=s.uid, current_sid=s.sid)
    return JsonResponse({"sessions": rows})


@allow_methods("DELETE")
@api
async def session_detail(request: HttpRequest, session_id: str) -> HttpResponse:
    s = _auth(request).require()
    try:
        sid = uuid.UUID(session_id).hex
    except ValueError as e:
        raise NotFound("No such session.") from e
    row = await selectors.aget_session(sid=sid, uid=s.uid)
    if row is None:
        raise NotFound("No such session.")
    current = sid == s.sid
    reason = RevokeReason.LOGOUT if current else RevokeReason.ENDED_BY_USER
    await sync_to_async(session_revoke)(session=row, reason=reason)
    resp = JsonResponse({"ok": True, "current": current})
    if current:
        clear_auth_cookies(resp)
    return resp


@allow_methods("GET")
async def jwks(request: HttpRequest) -> HttpResponse:
    data = await sync_to_async(signing_keys.jwks)()
    resp = JsonResponse(data)
    resp["Cache-Control"] = f"public, max-age={int(auth_settings.JWKS_CACHE_MAX_AGE.total_seconds())}"
    return resp


@allow_methods("GET")
async def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


def _db_ok() -> bool:
    try:
        connection.ensure_connection()
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


# Set on readiness answers while the session store is degraded (Redis away, SQL serving).
DEGRADED_HEADER = "X-Authsite-Degraded"


@allow_methods("GET")
async def readyz(request: HttpRequest) -> HttpResponse:
    """Ready when the database answers. Redis away is not unready: sessions are served
    from SQL (degraded mode), said with ``"degraded": true`` and the ``X-Authsite-Degraded``
    header. The database away is 503 ``store_unavailable`` with ``Retry-After``."""
    checks: dict[str, Any] = {}
    checks["redis"] = await store.aping()
    checks["database"] = await sync_to_async(_db_ok)()
    ok = bool(checks["database"])
    degraded = not checks["redis"]
    body: dict[str, Any] = {"ok": ok, "degraded": degraded, "checks": checks}
    if not ok:
        body.update(StoreUnavailable("Not ready: " + ", ".join(k for k, v in checks.items() if not v) + " unreachable.").as_dict())
    resp = JsonResponse(body, status=200 if ok else 503)
    resp["Cache-Control"] = "no-store"
    if degraded:
        resp[DEGRADED_HEADER] = "true"
    if not ok:
        resp["Retry-After"] = "2"
    return resp
