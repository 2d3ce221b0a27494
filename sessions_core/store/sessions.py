"""The session store's typed facade: the hot copy of every live session.

One round trip (a script) authenticates a request and records its activity.
A miss is this module's business, as in Django's ``cached_db.load()``: it
rebuilds the session from SQL and asks again, so callers never see one (a Redis
flush or restart signs nobody out).

Redis unreachable is this module's business too (degraded mode, README "Redis
down, site up"): a Redis failure opens the circuit breaker (:mod:`.breaker`),
and while it is open the checks answer from SQL (:mod:`.degraded`), writes that
only mirror SQL (revoke, rotation, jti records) are left to the recovery
(:mod:`.recovery`), which writes them before the breaker closes, and reads of
Redis-only data (last activity) answer with nothing. Errors that are not Redis
being away (the database down too) still surface as
:class:`~sessions_core.errors.StoreUnavailable`.
"""
from __future__ import annotations

import time
import uuid

from django.db import DatabaseError

from sessions_core.conf import auth_settings
from sessions_core.db import db_call
from sessions_core.errors import SessionExpired, SessionRevoked, StoreUnavailable
from sessions_core.models import AuthSession
from sessions_core.reasons import DenyReason
from sessions_core.store import degraded, keys, lua
from sessions_core.store.autopipeline import run_script
from sessions_core.store.breaker import breaker
from sessions_core.store.client import REDIS_ERRORS, get_async_redis, get_redis
from sessions_core.store.guard import is_degraded, redis_down, redis_guard, s as s_
from sessions_core.store.writes import (
    apply_rotation, blacklist_jti, iter_activity, last_active, load, put, record_jti, revoke, set_user_token_version,
)
from sessions_core.store.records import (
    RotationState, SessionRecord, Validated, now_ms, record_for, unpack_avatar,
)

__all__ = [
    "RotationState", "SessionRecord", "Validated", "acheck_access", "aping", "apply_rotation", "avalidate", "blacklist_jti",
    "held", "iter_activity", "last_active", "load", "now_ms", "ping", "put", "record_for", "record_jti", "redis_guard",
    "rehydrate", "revoke", "rotation_state", "set_user_token_version",
]


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

# Generations this process already wrote to SQL while degraded (sid -> generation), so a
# Redis outage costs one conditional UPDATE per session and generation, not one per request.
_MARKED_IN_SQL: dict[str, int] = {}


def _mark_in_sql(*, sid: str, generation: int) -> None:
    AuthSession.objects.filter(pk=uuid.UUID(hex=sid), refresh_generation_in_use__lt=generation).update(
        refresh_generation_in_use=generation
    )


async def _amark_in_sql(sid: str, generation: int | None) -> None:
    """While degraded Redis cannot record that ``generation`` is in use: SQL does, at once
    (a lost answer's recovery must not outlive the outage as a blind spot)."""
    # Generation 0 is the column's floor: nothing to write.
    if not generation or _MARKED_IN_SQL.get(sid, 0) >= generation:
        return
    try:
        await db_call(_mark_in_sql, sid=sid, generation=generation)
    except DatabaseError:
        return  # the request is served from SQL already; the next one tries again
    if len(_MARKED_IN_SQL) > 100_000:
        _MARKED_IN_SQL.clear()
    _MARKED_IN_SQL[sid] = generation



async def _avalidate_once(uid: int, sid: str, generation: int | None) -> Validated | None:
    flush_ms = int(auth_settings.ACTIVITY_FLUSH_INTERVAL.total_seconds() * 1000)
    try:
        res = await run_script(
            get_async_redis(), lua.VALIDATE, 3, keys.session(uid, sid), keys.user(uid), keys.user_sessions(uid),
            now_ms(), flush_ms, sid, -1 if generation is None else generation,
        )
    except REDIS_ERRORS as e:
        raise redis_down(e) from e
    status = s_(res[0])
    if status == "miss":
        return None
    if status != "ok":
        _raise_for(status, s_(res[1]))
    return Validated(
        uid=uid, sid=sid, flush_due=s_(res[1]) == "1", expires_ms=int(res[2]), absolute_ms=int(res[3]),
        username=s_(res[4]), display_name=s_(res[5]), avatar_url=unpack_avatar(s_(res[6])), playfab_id=s_(res[7]),
        token_version=int(res[8]), generation=generation, generation_in_use=int(res[9]),
    )


async def avalidate(uid: int, sid: str, generation: int | None = None) -> Validated:
    """Check a session and touch its activity in one round trip (SQL only on a miss,
    or while degraded).

    ``generation``: the refresh generation of the presenting credential, recorded
    as in use (the first use of a generation makes ``flush_due`` true).
    Raises ``SessionRevoked``, ``SessionExpired`` or ``StoreUnavailable``.
    """
    if not is_degraded():
        try:
            validated = await _avalidate_once(uid, sid, generation)
            if validated is None:
                await _arehydrate(uid, sid)
                validated = await _avalidate_once(uid, sid, generation)
                if validated is None:
                    raise StoreUnavailable()
            return validated
        except StoreUnavailable:
            if not is_degraded():
                raise  # the database, not Redis
    cached = degraded.validate_cached(uid, sid)
    validated = cached if cached is not None else await db_call(degraded.validate, uid=uid, sid=sid)
    await _amark_in_sql(sid, generation)
    return validated


async def _acheck_access_once(uid: int, sid: str, jti: str, token_version: int, generation: int | None) -> bool | None:
    """True: passed, and the token's generation was first seen in use now. False: passed. None: a miss."""
    try:
        res = await run_script(
            get_async_redis(), lua.CHECK_ACCESS, 3, keys.session(uid, sid), keys.user(uid), keys.blacklist(uid, jti),
            int(time.time()), -1 if generation is None else generation,
        )
    except REDIS_ERRORS as e:
        raise redis_down(e) from e
    status = s_(res[0])
    if status == "miss":
        return None
    if status == DenyReason.BLACKLISTED:
        raise SessionRevoked("This access token has been revoked.", reason=DenyReason.BLACKLISTED)
    if status != "ok":
        _raise_for(status, s_(res[1]))
    if token_version < int(res[2]):
        raise SessionRevoked("The token version has changed.", reason=DenyReason.TOKEN_VERSION)
    return s_(res[3]) == "1"


async def acheck_access(uid: int, sid: str, jti: str, token_version: int, generation: int | None = None) -> bool:
    """The hub's check of an access token's session: ``jti`` not blacklisted, session
    live, token version current (while degraded: from SQL, without the blacklist);
    records ``generation`` as in use.

    Returns True when that generation was seen in use for the first time (the
    caller carries it to SQL; while degraded it is written to SQL here).
    Raises ``SessionRevoked``/``SessionExpired``/``StoreUnavailable``.
    """
    if not is_degraded():
        try:
            marked = await _acheck_access_once(uid, sid, jti, token_version, generation)
            if marked is None:
                await _arehydrate(uid, sid)
                marked = await _acheck_access_once(uid, sid, jti, token_version, generation)
                if marked is None:
                    raise StoreUnavailable()
            return marked
        except StoreUnavailable:
            if not is_degraded():
                raise
    if not degraded.check_access_cached(uid=uid, sid=sid, token_version=token_version):
        await db_call(degraded.check_access, uid=uid, sid=sid, token_version=token_version)
    await _amark_in_sql(sid, generation)
    return False


# --- sync side (services, admin, commands) ---------------------------------------------


def rotation_state(uid: int, sid: str) -> RotationState:
    """The chain's last move as Redis has it (rebuilt from SQL on a miss).

    It never says why a session is not live (``live`` is False): the refresh
    service tells that only to a caller whose token matches (no state oracle for
    whoever knows a uid and sid). While degraded the answer is "unknown" (not
    live, no predecessor, never rotated): the refresh service then decides from
    its SQL row alone, as it does after a fast-path miss. Raises ``SessionRevoked``
    (reason ``unknown``) when SQL has no such session, ``StoreUnavailable`` when
    the database cannot be reached.
    """
    fields = ["st", "prev", "rot", "exp", "abs", "gu", "gen"]
    # Redis's view of the generation in use is unknown too: SQL's durable copy decides.
    unknown = RotationState(live=False, refresh_prev_hash="", rotated_ms=0, generation_in_use=0)
    for attempt in range(2):
        if is_degraded():
            return unknown
        try:
            vals = [s_(v) if v is not None else None for v in get_redis().hmget(keys.session(uid, sid), fields)]
        except REDIS_ERRORS:
            breaker.trip()
            return unknown
        if vals[0] is not None:
            st, prev, rot, exp, absolute, gu, gen = (v or "" for v in vals)
            live = st == "a" and now_ms() < min(int(exp or 0), int(absolute or 0))
            # A record written before ``gu`` existed counts its whole chain as used.
            return RotationState(
                live=live, refresh_prev_hash=prev, rotated_ms=int(rot or 0), generation_in_use=int(gu or gen or 0)
            )
        if attempt == 0:
            rehydrate(uid=uid, sid=sid)
    if is_degraded():
        return unknown
    raise StoreUnavailable()


def held(uid: int, sids: list[str]) -> set[str]:
    """Which of these sessions this Redis holds at all (live or tombstoned).

    Never answered from SQL: a caller asks to learn whether this is the Redis the
    running site uses. Raises ``StoreUnavailable`` when Redis does not answer.
    """
    if not sids:
        return set()
    with redis_guard():
        pipe = get_redis().pipeline(transaction=False)
        for sid in sids:
            pipe.exists(keys.session(uid, sid))
        found = pipe.execute()
    return {sid for sid, n in zip(sids, found) if n}


async def aping() -> bool:
    """True if Redis answers (readiness); never raises. False at once while degraded
    (the breaker's probe decides when Redis is back), and a failure trips the breaker."""
    if is_degraded():
        return False
    try:
        return bool(await get_async_redis().ping())
    except REDIS_ERRORS:
        breaker.trip()
        return False


def ping() -> bool:
    with redis_guard():
        return bool(get_redis().ping())
