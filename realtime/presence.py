"""Connection state and presence in Redis (no state in process memory).

- ``connections(uid)``: open connection id -> session id.
- ``connection_leases(uid)``: each connection's lease, renewed every ping tick,
  plus ``hb`` for the last ``Heartbeat()``. A worker that dies stops renewing,
  so its connections lapse on their own.
- ``presence()``: user id -> time they stay online until (their latest lease);
  ``presence_names()``: their display names.
- ``session_groups(uid, sid)``: application groups a session joined; a
  reconnect of the same session joins them again.

A user goes offline when their last connection closes and no heartbeat lease
is live, or when their leases lapse (the sweep notices). Transitions are
announced to the presence group as ``presenceChanged``.
"""
from __future__ import annotations

import time
from typing import Any

from channels.layers import get_channel_layer

from sessions_core.store import keys as redis_keys
from sessions_core.conf import auth_settings
from sessions_core.store import redis_guard
from sessions_core.store.client import get_async_redis

from realtime import lua
from realtime.auth import HubPrincipal
from realtime.errors import BadGroup, TooManyGroups
from realtime.groups import APP_GROUP_RE, presence_group

HEARTBEAT_MEMBER = "hb"
SWEEP_BATCH = 100
_last_sweep = 0.0


def now_ms() -> int:
    return int(time.time() * 1000)


def _ms(name: str) -> int:
    return int(getattr(auth_settings, name).total_seconds() * 1000)


def _key_ttl_ms() -> int:
    return 2 * max(_ms("HUB_CONNECTION_LEASE"), _ms("HUB_HEARTBEAT_LEASE"))


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


async def _announce(uid: int, name: str, online: bool) -> None:
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(
            presence_group(), {"type": "hub.presence", "user_id": str(uid), "name": name, "online": online}
        )


async def _mark_online(p: HubPrincipal, until_ms: int) -> None:
    r = get_async_redis()
    with redis_guard():
        came = await r.eval(lua.SET_ONLINE, 2, redis_keys.presence(), redis_keys.presence_names(), p.uid, until_ms, p.name, now_ms())
    if int(came):
        await _announce(p.uid, p.name, True)


async def register(p: HubPrincipal, connection_id: str) -> list[str]:
    """Record an open connection and mark its user online; returns the session's application groups."""
    r = get_async_redis()
    now = now_ms()
    with redis_guard():
        res = await r.eval(
            lua.REGISTER, 3, redis_keys.connections(p.uid), redis_keys.connection_leases(p.uid), redis_keys.session_groups(p.uid, p.sid),
            now, connection_id, p.sid, now + _ms("HUB_CONNECTION_LEASE"), _key_ttl_ms(),
        )
    await _mark_online(p, int(float(_s(res[0]))))
    return [_s(g) for g in res[1:]]


async def renew(p: HubPrincipal, connection_id: str) -> None:
    """Extend a live connection's lease (every ping tick)."""
    await _renew(p, connection_id, p.sid, _ms("HUB_CONNECTION_LEASE"))


async def heartbeat(p: HubPrincipal) -> None:
    """``Heartbeat()``: keep the user online for ``HUB_HEARTBEAT_LEASE`` even with no connection."""
    await _renew(p, HEARTBEAT_MEMBER, "", _ms("HUB_HEARTBEAT_LEASE"))


async def _renew(p: HubPrincipal, member: str, sid: str, lease_ms: int) -> None:
    r = get_async_redis()
    now = now_ms()
    with redis_guard():
        top = await r.eval(
            lua.RENEW, 2, redis_keys.connections(p.uid), redis_keys.connection_leases(p.uid),
            now, member, sid, now + lease_ms, _key_ttl_ms(),
        )
    await _mark_online(p, int(float(_s(top))))


async def unregister(p: HubPrincipal, connection_id: str) -> bool:
    """Forget a closed connection; True if that took the user offline (announce with :func:`announce_offline`).

    The caller announces once its own channel-layer receive has stopped: a
    receive cancelled mid-pop would swallow a message sent just before.
    """
    r = get_async_redis()
    now = now_ms()
    with redis_guard():
        top = int(float(_s(await r.eval(lua.UNREGISTER, 2, redis_keys.connections(p.uid), redis_keys.connection_leases(p.uid), now, connection_id))))
        if top > now:
            return False
        removed = int(await r.eval(lua.SET_OFFLINE, 2, redis_keys.presence(), redis_keys.presence_names(), p.uid))
        # Re-read: a connection may have registered between the two scripts (they
        # are on different Cluster slots, so they cannot be one script).
        again = int(float(_s(await r.eval(lua.LATEST, 1, redis_keys.connection_leases(p.uid), now_ms()))))
    if again > now:
        await _mark_online(p, again)
        return False
    return bool(removed)


async def announce_offline(p: HubPrincipal) -> None:
    await _announce(p.uid, p.name, False)


async def sweep(*, force: bool = False) -> list[int]:
    """Drop users whose leases lapsed (a worker died) and announce them offline.

    Runs from connections' ping ticks, at most once per ping interval per process.
    """
    global _last_sweep
    mono = time.monotonic()
    if not force and mono - _last_sweep < auth_settings.HUB_PING_INTERVAL.total_seconds():
        return []
    _last_sweep = mono
    with redis_guard():
        gone = await get_async_redis().eval(lua.SWEEP, 2, redis_keys.presence(), redis_keys.presence_names(), now_ms(), SWEEP_BATCH)
    uids = [int(_s(u)) for u in gone]
    for uid in uids:
        await _announce(uid, "", False)
    return uids


async def online_users(limit: int = 1000) -> list[dict[str, str]]:
    """Online users as ``[{"userId", "name"}]``, at most ``limit``."""
    with redis_guard():
        flat = await get_async_redis().eval(lua.ONLINE, 2, redis_keys.presence(), redis_keys.presence_names(), now_ms(), limit)
    vals = [_s(v) for v in flat]
    return [{"userId": vals[i], "name": vals[i + 1]} for i in range(0, len(vals), 2)]


async def connections_of(uid: int) -> dict[str, str]:
    """Open connections of a user (connection id -> session id), lapsed leases excluded."""
    r = get_async_redis()
    with redis_guard():
        conns = await r.hgetall(redis_keys.connections(uid))
        live = await r.zrangebyscore(redis_keys.connection_leases(uid), f"({now_ms()}", "+inf")
    alive = {_s(c) for c in live}
    return {_s(c): _s(s) for c, s in conns.items() if _s(c) in alive}


def check_group_name(name: object) -> str:
    if not isinstance(name, str) or not APP_GROUP_RE.match(name):
        raise BadGroup()
    return name


async def join_group(p: HubPrincipal, name: str) -> None:
    """Remember that the session joined ``name`` (kept while the session can live)."""
    key = redis_keys.session_groups(p.uid, p.sid)
    r = get_async_redis()
    with redis_guard():
        if await r.scard(key) >= auth_settings.HUB_MAX_GROUPS_PER_SESSION and not await r.sismember(key, name):
            raise TooManyGroups()
        pipe = r.pipeline(transaction=False)
        pipe.sadd(key, name)
        pipe.pexpire(key, int(auth_settings.SESSION_ABSOLUTE_TTL.total_seconds() * 1000))
        await pipe.execute()


async def leave_group(p: HubPrincipal, name: str) -> None:
    with redis_guard():
        await get_async_redis().srem(redis_keys.session_groups(p.uid, p.sid), name)
