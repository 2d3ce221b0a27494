"""Negotiated connection tokens (TransportProtocols.md, "POST [endpoint-base]/negotiate").

``POST /hub/negotiate`` hands out a ``connectionId`` (public, the client's
``connection.connectionId``) and a ``connectionToken`` (what the client puts in
``?id=`` on the WebSocket). The token is bound to the session that negotiated
it, lives in Redis (any worker can take the WebSocket) for ``HUB_NEGOTIATE_TTL``
and is used once. Only a digest of it is stored. Connecting without ``id``
(the client's ``skipNegotiation``) gets a fresh connection id.

While the session store is degraded (Redis away), the token is self-contained
instead: ``d.<exp>.<connectionId>.<HMAC of session, id, exp>``. It is bound to the
session and lives ``HUB_NEGOTIATE_TTL`` as before, but is not single-use (no
store to record its use): within those seconds the same session could open two
sockets with one connection id (README, "Redis down, site up").
"""
from __future__ import annotations

import hashlib
import hmac
import time

from sessions_core.store import keys as redis_keys
from sessions_core.conf import auth_settings
from sessions_core.store.breaker import breaker
from sessions_core.tokens.crypto import b64url, keyed_digest, random_secret
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
    if not breaker.available():
        return _degraded_token(principal, ttl_ms)
    try:
        await get_async_redis().set(
            redis_keys.negotiation(principal.uid, _digest(token)), f"{principal.sid}:{connection_id}", px=ttl_ms
        )
    except REDIS_ERRORS:
        breaker.trip()
        return _degraded_token(principal, ttl_ms)
    return connection_id, token


def _mac(sid: str, connection_id: str, exp: str) -> str:
    return b64url(keyed_digest("hub-negotiate", f"{sid}:{connection_id}:{exp}")[:16])


def _degraded_token(principal: HubPrincipal, ttl_ms: int) -> tuple[str, str]:
    connection_id = random_secret(12)
    exp = str(int(time.time() + ttl_ms / 1000))
    return connection_id, f"d.{exp}.{connection_id}.{_mac(principal.sid, connection_id, exp)}"


def _claim_degraded(principal: HubPrincipal, connection_token: str) -> str:
    _, exp, connection_id, mac = (connection_token.split(".") + ["", "", "", ""])[:4]
    good = hmac.compare_digest(_mac(principal.sid, connection_id, exp), mac)
    if not good or not exp.isdigit() or int(exp) < time.time() or not connection_id:
        raise ConnectionUnknown()
    return connection_id


async def claim(principal: HubPrincipal, connection_token: str | None) -> str:
    """The connection id for a WebSocket: a new one without a token, else the negotiated one.

    Raises ``ConnectionUnknown`` when the token is unknown, expired, used, or
    was negotiated by another session; ``StoreUnavailable`` on Redis errors.
    """
    if connection_token is None:
        return new_connection_id()
    if not connection_token or len(connection_token) > MAX_TOKEN_CHARS:
        raise ConnectionUnknown()
    if connection_token.startswith("d."):
        return _claim_degraded(principal, connection_token)
    if not breaker.available():
        # Negotiated before the outage: its record is in Redis. The client negotiates again.
        raise StoreUnavailable()
    try:
        raw = await get_async_redis().getdel(redis_keys.negotiation(principal.uid, _digest(connection_token)))
    except REDIS_ERRORS as e:
        breaker.trip()
        raise StoreUnavailable() from e
    value = raw.decode() if isinstance(raw, bytes) else raw
    sid, _, connection_id = (value or "").partition(":")
    if not value or sid != principal.sid or not connection_id:
        raise ConnectionUnknown()
    return connection_id
