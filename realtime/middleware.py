"""Handshake middleware: authenticate a hub WebSocket before it is accepted.

The token comes from the ``access_token`` query parameter (browsers cannot set
headers on a WebSocket) or an ``Authorization: Bearer`` header (RFC 6750 §2.1;
the official client sends it from Node). ``Origin`` is checked against
``ALLOWED_HOSTS`` when present and accepted when absent: the token, not an
ambient cookie, authenticates, so a cross-site page gains nothing (RFC 6455 §10.2).

A refusal closes before accept, which the server answers with HTTP 403 on the
upgrade (ASGI WebSocket spec, "Close - send event"); the inner application never
sees the connection. Each refusal is logged with its reason, never the token.
Like Channels' own middleware this copies the scope and keeps nothing on the
instance.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

from django.conf import settings
from django.http.request import validate_host

from sessions_core import security_log
from sessions_core.errors import AuthError

from realtime import negotiation
from realtime.auth import HubPrincipal, check_session, verify_access_token
from realtime.errors import OriginRefused

Scope = dict[str, Any]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin1")
    return None


def _query(scope: Scope) -> dict[str, list[str]]:
    raw = scope.get("query_string", b"")
    return parse_qs(raw.decode("latin1") if isinstance(raw, bytes) else str(raw))


def token_from_scope(scope: Scope) -> str | None:
    """The Bearer header's token, else the ``access_token`` query parameter."""
    auth = _header(scope, b"authorization")
    if auth is not None:
        scheme, _, value = auth.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    values = _query(scope).get("access_token")
    return values[0] if values else None


def check_origin(scope: Scope) -> None:
    """Raise ``OriginRefused`` unless the Origin header is absent or names an allowed host."""
    origin = _header(scope, b"origin")
    if origin is None:
        return
    parsed = urlparse(origin)
    host = parsed.hostname
    if parsed.scheme not in {"http", "https"} or not host:
        raise OriginRefused()
    # validate_host is Django's ALLOWED_HOSTS matcher (leading dots, "*"); the
    # port is not part of the check, as in Channels' AllowedHostsOriginValidator.
    allowed = list(settings.ALLOWED_HOSTS) or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    if not validate_host(f"[{host}]" if ":" in host else host, allowed):
        raise OriginRefused()


async def deny(receive: Any, send: Any) -> None:
    """Refuse the upgrade: close before accepting, which the server turns into HTTP 403."""
    message = await receive()
    if message.get("type") == "websocket.connect":
        await send({"type": "websocket.close", "code": 1008})


class HubAuthMiddleware:
    """Adds ``scope["hub"]`` (:class:`HubPrincipal`) and ``scope["hub_connection_id"]``, or refuses."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        principal: HubPrincipal | None = None
        try:
            check_origin(scope)
            principal = await verify_access_token(token_from_scope(scope))
            await check_session(principal)
            ids = _query(scope).get("id")
            connection_id = await negotiation.claim(principal, ids[0] if ids else None)
        except AuthError as e:
            client = scope.get("client") or ("", 0)
            security_log.event(
                "hub.refused", reason=e.code, revoke_reason=getattr(e, "reason", None), detail=e.detail,
                ip=client[0], path=scope.get("path", ""),
                user_id=principal.uid if principal else None, session_id=principal.sid if principal else None,
            )
            return await deny(receive, send)
        scope = dict(scope, hub=principal, hub_connection_id=connection_id)
        return await self.inner(scope, receive, send)
