"""Negotiated connection tokens (TransportProtocols.md, "POST [endpoint-base]/negotiate").

``POST /hub/negotiate`` hands out a ``connectionId`` (public, the client's
``connection.connectionId``) and a ``connectionToken`` (what the client puts in
``?id=`` on the WebSocket). The token is bound to the session that negotiated
it, lives in Redis (any worker can take the WebSocket) for ``HUB_NEGOTIATE_TTL``
and is used once. Only a digest of it is stored. Connecting without ``id``
(the client's ``skipNegotiation``) gets a fresh connection id.
"""
from __future__ import annotations

import hashlib

from sessions_core.store import keys as redis_keys
from sessions_core.conf import auth_settings
from sessions_core.tokens.crypto import random_secret
from sessions_core.errors import StoreUnavailable
from sessions_core.store.client import REDIS_ERRORS, get_async_redis

from realtime.auth import HubPrincipal
from realtime.errors import ConnectionUnknown

NEGOTIATE_VERSION = 1
MAX_TOKEN_CHARS = 64


def _digest(connection_token: str) -> str:
    return hashlib.sha256(connection_token.encode()).hexdigest()[:32]


def new_connection_id() -> str:
    return random_secret(16)


async def create(principal: HubPrincipal) -> tuple[str, str]:
    """Register a negotiated connection for the principal's session; returns (connectionId, connectionToken)."""
    connection_id, token = new_connection_id(), random_secret(16)
    ttl_ms = int(auth_settings.HUB_NEGOTIATE_TTL.total_seconds() * 1000)
    try:
        await get_async_redis().set(
            redis_keys.negotiation(principal.uid, _digest(token)), f"{principal.sid}:{connection_id}", px=ttl_ms
        )
    except REDIS_ERRORS as e:
        raise StoreUnavailable() from e
    return connection_id, token


async def claim(principal: HubPrincipal, connection_token: str | None) -> str:
    """The connection id for a WebSocket: a new one without a token, else the negotiated one.

    Raises ``ConnectionUnknown`` when the token is unknown, expired, used, or
    was negotiated by another session; ``StoreUnavailable`` on Redis errors.
    """
    if connection_token is None:
        return new_connection_id()
    if not connection_token or len(connection_token) > MAX_TOKEN_CHARS:
        raise ConnectionUnknown()
    try:
        raw = await get_async_redis().getdel(redis_keys.negotiation(principal.uid, _digest(connection_token)))
    except REDIS_ERRORS as e:
        raise StoreUnavailable() from e
    value = raw.decode() if isinstance(raw, bytes) else raw
    sid, _, connection_id = (value or "").partition(":")
    if not value or sid != principal.sid or not connection_id:
        raise ConnectionUnknown()
    return connection_id
