"""The session store's typed facade: the hot copy of every live session.

One round trip (a script) authenticates a request and records its activity.
A miss is this module's business, as in Django's ``cached_db.load()``: it
rebuilds the session from SQL and asks again, so callers never see one (a Redis
flush or restart signs nobody out). Redis errors surface as
:class:`~sessions_core.errors.StoreUnavailable`; nothing here swallows a failed write.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError

from sessions_core.conf import auth_settings
from sessions_core.db import db_call
from sessions_core.errors import SessionExpired, SessionRevoked, StoreUnavailable
from sessions_core.models import AuthSession
from sessions_core.reasons import DenyReason
from sessions_core.store import keys, lua
from sessions_core.store.autopipeline import run_script
from sessions_core.store.client import REDIS_ERRORS, get_async_redis, get_redis
from sessions_core.store.records import (
    RotationState, SessionRecord, Validated, now_ms, record_for, unpack_avatar,
)

__all__ = [
    "RotationState", "SessionRecord", "Validated", "acheck_access", "aping", "apply_rotation", "avalidate", "blacklist_jti",
    "held", "iter_activity", "last_active", "load", "now_ms", "ping", "put", "record_for", "record_jti", "redis_guard",
    "rehydrate", "revoke", "rotation_state", "set_user_token_version",
]


@contextmanager
def redis_guard() -> Iterator[None]:
    """Turn a Redis connection failure into ``StoreUnavailable`` (the clear 503)."""
    try:
        yield
    except REDIS_ERRORS as e:
        raise StoreUnavailable() from e


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else ("" if v is None else str(v))


def _user_ttl_ms() -> int:
    return int(auth_settings.SESSION_ABSOLUTE_TTL.total_seconds() * 1000)


def _raise_for(status: str, reason: str) -> None:
    """Raise the error for a refused session state (``expired`` or ``revoked`` with a reason)."""
    if status == "expired" or reason == "expired":
        raise SessionExpired()
    raise SessionRevoked(reason=reason or DenyReason.REVOKED)


# --- the miss ---------------------------------------------------------------------------


def rehydrate(*, uid: int, sid: str) -> None:
    """Rebuild a session's Redis copy from SQL after a miss.

    Raises ``SessionRevoked`` (reason ``unknown``) when SQL has no such session,
    ``StoreUnavailable`` when the database or Redis cannot be reached.
    """
    try:
        row = AuthSession.objects.select_related("user").get(pk=uuid.UUID(hex=sid), user_id=uid)
    except AuthSession.DoesNotExist as e:
        raise SessionRevoked("No such session.", reason=DenyReason.UNKNOWN) from e
    except DatabaseError as e:
        raise StoreUnavailable("The database is unavailable; nothing was changed. Retry shortly.") from e
    load(record_for(row, row.user))


async def _arehydrate(uid: int, sid: str) -> None:
    await db_call(rehydrate, uid=uid, sid=sid)


# --- hot path (async) ------------------------------------------------------------------


async def _avalidate_once(uid: int, sid: str) -> Validated | None:
    flush_ms = int(auth_settings.ACTIVITY_FLUSH_INTERVAL.total_seconds() * 1000)
    try:
        res = await run_script(
            get_async_redis(), lua.VALIDATE, 3, keys.session(uid, sid), keys.user(uid), keys.user_sessions(uid),
            now_ms(), flush_ms, sid,
        )
    except REDIS_ERRORS as e:
        raise StoreUnavailable() from e
    status = _s(res[0])
    if status == "miss":
        return None
    if status != "ok":
        _raise_for(status, _s(res[1]))
    return Validated(
        uid=uid, sid=sid, flush_due=_s(res[1]) == "1", expires_ms=int(res[2]), absolute_ms=int(res[3]),
        username=_s(res[4]), display_name=_s(res[5]), avatar_url=unpack_avatar(_s(res[6])), playfab_id=_s(res[7]),
        token_version=int(res[8]),
    )


async def avalidate(uid: int, sid: str) -> Validated:
    """Check a session and touch its activity in one round trip (SQL only on a miss).

    Raises ``SessionRevoked``, ``SessionExpired`` or ``StoreUnavailable``.
    """
    validated = await _avalidate_once(uid, sid)
    if validated is None:
        await _arehydrate(uid, sid)
        validated = await _avalidate_once(uid, sid)
        if validated is None:
            raise StoreUnavailable()
    return validated


async def _acheck_access_once(uid: int, sid: str, jti: str, token_version: int) -> bool:
    try:
        res = await run_script(
            get_async_redis(), lua.CHECK_ACCESS, 3, keys.session(uid, sid), keys.user(uid), keys.blacklist(uid, jti),
            int(time.time()),
        )
    except REDIS_ERRORS as e:
        raise StoreUnavailable() from e
    status = _s(res[0])
    if status == "miss":
        return False
    if status == DenyReason.BLACKLISTED:
        raise SessionRevoked("This access token has been revoked.", reason=DenyReason.BLACKLISTED)
    if status != "ok":
        _raise_for(status, _s(res[1]))
    if token_version < int(res[2]):
        raise SessionRevoked("The token version has changed.", reason=DenyReason.TOKEN_VERSION)
    return True


async def acheck_access(uid: int, sid: str, jti: str, token_version: int) -> None:
    """The hub's check of an access token's session: ``jti`` not blacklisted, session
    live, token version current. Raises ``SessionRevoked``/``SessionExpired``/``StoreUnavailable``."""
    if not await _acheck_access_once(uid, sid, jti, token_version):
        await _arehydrate(uid, sid)
        if not await _acheck_access_once(uid, sid, jti, token_version):
            raise StoreUnavailable()


# --- sync side (services, admin, commands) ---------------------------------------------


def load(record: SessionRecord) -> bool:
    """Write a session rebuilt from SQL unless Redis already has one; True if written.

    The user's fields (name, avatar, PlayFab id, token version) are refreshed either way.
    """
    session_fields = record.fields()
    args: list[str | int] = [record.pexpireat(), _user_ttl_ms(), record.sid, len(session_fields)]
    for k, v in [*session_fields.items(), *record.user_fields().items()]:
        args += [k, v]
    with redis_guard():
        created = get_redis().eval(
            lua.LOAD, 3, keys.session(record.uid, record.sid), keys.user(record.uid), keys.user_sessions(record.uid),
            *args,
        )
    return bool(created)


def put(record: SessionRecord) -> None:
    """Write a new session (overwriting any stale copy)."""
    with redis_guard():
        get_redis().delete(keys.session(record.uid, record.sid))
    load(record)


def rotation_state(uid: int, sid: str) -> RotationState:
    """The chain's last move as Redis has it (rebuilt from SQL on a miss).

    Raises ``SessionRevoked``/``SessionExpired`` for a session that is not live,
    ``StoreUnavailable`` when Redis cannot be reached.
    """
    fields = ["st", "rr", "prev", "rot", "exp", "abs"]
    for attempt in range(2):
        with redis_guard():
            vals = [_s(v) if v is not None else None for v in get_redis().hmget(keys.session(uid, sid), fields)]
        if vals[0] is not None:
            st, rr, prev, rot, exp, absolute = (v or "" for v in vals)
            if st != "a":
                _raise_for("revoked", rr)
            if now_ms() >= min(int(exp or 0), int(absolute or 0)):
                raise SessionExpired()
            return RotationState(refresh_prev_hash=prev, rotated_ms=int(rot or 0))
        if attempt == 0:
            rehydrate(uid=uid, sid=sid)
    raise StoreUnavailable()


def apply_rotation(
    *, uid: int, sid: str, cur: str, prev: str, generation: int, rotated_ms: int, expires_ms: int, absolute_ms: int
) -> None:
    with redis_guard():
        get_redis().eval(
            lua.APPLY_ROTATION, 1, keys.session(uid, sid), cur, prev, generation, rotated_ms, expires_ms,
            min(expires_ms, absolute_ms),
        )


def revoke(*, uid: int, sid: str, reason: str) -> int:
    """Tombstone the session, drop it from the user's set, blacklist its access tokens."""
    tomb = int(auth_settings.REVOKED_TOMBSTONE_TTL.total_seconds() * 1000)
    with redis_guard():
        return int(
            get_redis().eval(
                lua.REVOKE, 3, keys.session(uid, sid), keys.user_sessions(uid), keys.session_jtis(uid, sid),
                reason, tomb, int(time.time()), sid, keys.blacklist(uid, ""),
            )
        )


def blacklist_jti(*, uid: int, jti: str, exp: int) -> None:
    if exp <= time.time():
        return
    with redis_guard():
        get_redis().set(keys.blacklist(uid, jti), "1", exat=exp)


def record_jti(*, uid: int, sid: str, jti: str, exp: int) -> None:
    """Remember a minted access token so revoking its session blacklists it."""
    key = keys.session_jtis(uid, sid)
    with redis_guard():
        pipe = get_redis().pipeline(transaction=False)
        pipe.zadd(key, {jti: exp})
        pipe.zremrangebyscore(key, "-inf", int(time.time()))
        pipe.expireat(key, exp + 60)
        pipe.execute()


def set_user_token_version(uid: int, tv: int) -> None:
    with redis_guard():
        get_redis().hset(keys.user(uid), "tv", tv)


def last_active(uid: int, sids: list[str]) -> dict[str, int]:
    """Last activity (ms) Redis has for these sessions (absent ones omitted)."""
    if not sids:
        return {}
    with redis_guard():
        pipe = get_redis().pipeline(transaction=False)
        for sid in sids:
            pipe.hget(keys.session(uid, sid), "la")
        vals = pipe.execute()
    return {sid: int(v) for sid, v in zip(sids, vals) if v is not None}


def held(uid: int, sids: list[str]) -> set[str]:
    """Which of these sessions this Redis holds at all (live or tombstoned)."""
    if not sids:
        return set()
    with redis_guard():
        pipe = get_redis().pipeline(transaction=False)
        for sid in sids:
            pipe.exists(keys.session(uid, sid))
        found = pipe.execute()
    return {sid for sid, n in zip(sids, found) if n}


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


async def aping() -> bool:
    """True if Redis answers (readiness); never raises."""
    try:
        return bool(await get_async_redis().ping())
    except REDIS_ERRORS:
        return False


def ping() -> bool:
    with redis_guard():
        return bool(get_redis().ping())
