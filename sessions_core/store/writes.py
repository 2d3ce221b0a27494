"""The store's sync writes (services, admin, commands): each mirrors what SQL decided.

While degraded (the breaker open) they are skipped, and a Redis failure trips
the breaker instead of failing the caller's transaction: the recovery writes the
change from SQL before this worker reads Redis again (:mod:`.recovery`).
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from sessions_core.conf import auth_settings
from sessions_core.store import degraded, keys, lua
from sessions_core.store.client import get_redis
from sessions_core.store.guard import mirror, redis_guard, s as _s
from sessions_core.store.records import SessionRecord


def _user_ttl_ms() -> int:
    return int(auth_settings.SESSION_ABSOLUTE_TTL.total_seconds() * 1000)


def load(record: SessionRecord) -> bool:
    """Write a session rebuilt from SQL unless Redis already has one; True if written
    (False while degraded: a miss rebuilds it later).

    The user's fields (name, avatar, PlayFab id, token version) are refreshed either way.
    """
    session_fields = record.fields()
    args: list[str | int] = [record.pexpireat(), _user_ttl_ms(), record.sid, len(session_fields)]
    for k, v in [*session_fields.items(), *record.user_fields().items()]:
        args += [k, v]

    def write() -> bool:
        return bool(get_redis().eval(
            lua.LOAD, 3, keys.session(record.uid, record.sid), keys.user(record.uid), keys.user_sessions(record.uid),
            *args,
        ))

    return mirror(write, False)


def put(record: SessionRecord) -> None:
    """Write a new session (overwriting any stale copy); while degraded, left to a later miss."""
    def write() -> bool:
        get_redis().delete(keys.session(record.uid, record.sid))
        return True

    if mirror(write, False):
        load(record)


def apply_rotation(
    *, uid: int, sid: str, cur: str, prev: str, generation: int, rotated_ms: int, expires_ms: int, absolute_ms: int
) -> None:
    """Mirror a rotation SQL decided (never rolls a newer generation back); while degraded, left to recovery."""
    degraded.forget(uid, sid)
    mirror(lambda: get_redis().eval(
        lua.APPLY_ROTATION, 1, keys.session(uid, sid), cur, prev, generation, rotated_ms, expires_ms,
        min(expires_ms, absolute_ms),
    ), None)


def revoke(*, uid: int, sid: str, reason: str) -> int:
    """Tombstone the session, drop it from the user's set, blacklist its access tokens.

    Returns how many access tokens were blacklisted (0 while degraded: the
    recovery tombstones the session from SQL before Redis is read again).
    """
    degraded.forget(uid, sid)
    tomb = int(auth_settings.REVOKED_TOMBSTONE_TTL.total_seconds() * 1000)
    return mirror(lambda: int(
        get_redis().eval(
            lua.REVOKE, 3, keys.session(uid, sid), keys.user_sessions(uid), keys.session_jtis(uid, sid),
            reason, tomb, int(time.time()), sid, keys.blacklist(uid, ""),
        )
    ), 0)


def blacklist_jti(*, uid: int, jti: str, exp: int) -> None:
    """Refuse one access token until its expiry (skipped while degraded: README "Redis down, site up")."""
    if exp <= time.time():
        return
    mirror(lambda: get_redis().set(keys.blacklist(uid, jti), "1", exat=exp), None)


def record_jti(*, uid: int, sid: str, jti: str, exp: int) -> None:
    """Remember a minted access token so revoking its session blacklists it (skipped while degraded)."""
    key = keys.session_jtis(uid, sid)

    def write() -> None:
        pipe = get_redis().pipeline(transaction=False)
        pipe.zadd(key, {jti: exp})
        pipe.zremrangebyscore(key, "-inf", int(time.time()))
        pipe.expireat(key, exp + 60)
        pipe.execute()

    mirror(write, None)


def set_user_token_version(uid: int, tv: int) -> None:
    """Mirror a bumped token version (never lowered; while degraded, the bump's revokes carry it)."""
    degraded.forget(uid)
    mirror(lambda: get_redis().eval(lua.SET_TV_MAX, 1, keys.user(uid), tv), None)


def last_active(uid: int, sids: list[str]) -> dict[str, int]:
    """Last activity (ms) Redis has for these sessions (absent ones omitted; none while degraded)."""
    if not sids:
        return {}

    def read() -> dict[str, int]:
        pipe = get_redis().pipeline(transaction=False)
        for sid in sids:
            pipe.hget(keys.session(uid, sid), "la")
        vals = pipe.execute()
        return {sid: int(v) for sid, v in zip(sids, vals) if v is not None}

    return mirror(read, {})


def iter_activity(batch_size: int) -> Iterator[tuple[int, dict[str, int]]]:
    """Every live session's last activity, a SCAN page at a time: ``(keys scanned, {sid: ms})``."""
    r = get_redis()
    with redis_guard():
        batch: list[Any] = []
        for key in r.scan_iter(match=keys.session_pattern(), count=batch_size):
            batch.append(key)
            if len(batch) >= batch_size:
                yield len(batch), _activity_of(r, batch)
                batch = []
        if batch:
            yield len(batch), _activity_of(r, batch)


def _activity_of(r: Any, batch: list[Any]) -> dict[str, int]:
    pipe = r.pipeline(transaction=False)
    for key in batch:
        pipe.hmget(key, ["la", "st"])
    seen: dict[str, int] = {}
    for key, (la, st) in zip(batch, pipe.execute()):
        ids = keys.session_key_ids(key)
        if ids is not None and la is not None and _s(st) == "a":
            seen[ids[1]] = int(la)
    return seen
