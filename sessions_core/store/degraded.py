"""Degraded mode: the store's answers from SQL while Redis is unreachable.

The facade (:mod:`.sessions`) calls these when its circuit breaker is open. A
session is checked against its row: state, idle and absolute expiry, and the
token version (the session's and the access token's against the user's).

Query budget (tested): one query (the session row joined with its user) per
session per ``STORE_DEGRADED_CACHE_TTL`` per worker; the rows are kept in this
worker's memory that long, so a revoke made by another worker is seen here
within that time (this worker's own revokes and rotations drop the entry at
once). Activity is written to SQL at most once per ``ACTIVITY_FLUSH_INTERVAL``
per session per worker (one UPDATE), as the Redis path flushes it.

What is weaker than the Redis path, and its bound, is in the README ("Redis
down, site up"): the ``jti`` blacklist is not consulted (revoking a session
refuses its access tokens through the session state instead), rate limits
count per worker, and another worker's revoke takes up to the cache TTL.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DatabaseError

from sessions_core.conf import auth_settings
from sessions_core.errors import SessionExpired, SessionRevoked, StoreUnavailable
from sessions_core.models import AuthSession, SessionState
from sessions_core.reasons import DenyReason
from sessions_core.store.records import Validated, ms, now_ms

# Entries beyond this are dropped oldest-first: the cache bounds memory, not correctness.
MAX_ENTRIES = 20_000


@dataclass(frozen=True)
class _Row:
    active: bool
    revoke_reason: str
    expires_ms: int
    absolute_ms: int
    token_version: int
    user_token_version: int
    username: str
    display_name: str
    avatar_url: str
    playfab_id: str


# The cache's clock (tests and the benchmark move it instead of sleeping).
clock: Callable[[], float] = time.monotonic

_lock = threading.Lock()
_rows: dict[tuple[int, str], tuple[float, _Row]] = {}
_flushed: dict[str, float] = {}


def _fetch(uid: int, sid: str) -> _Row:
    try:
        pk = uuid.UUID(hex=sid)
        row = AuthSession.objects.select_related("user").get(pk=pk, user_id=uid)
    except (AuthSession.DoesNotExist, ValueError) as e:
        raise SessionRevoked("No such session.", reason=DenyReason.UNKNOWN) from e
    except DatabaseError as e:
        raise StoreUnavailable("Neither Redis nor the database can be reached. Retry shortly.") from e
    user = row.user
    return _Row(
        active=row.state == SessionState.ACTIVE, revoke_reason=row.revoke_reason,
        expires_ms=ms(row.expires_at), absolute_ms=ms(row.absolute_expires_at), token_version=row.token_version,
        user_token_version=user.token_version, username=user.username, display_name=user.display_name(),
        avatar_url=user.avatar_url, playfab_id=user.playfab_id,
    )


def _cached(uid: int, sid: str) -> _Row | None:
    hit = _rows.get((uid, sid))
    if hit is not None and clock() - hit[0] < auth_settings.STORE_DEGRADED_CACHE_TTL.total_seconds():
        return hit[1]
    return None


def _row(uid: int, sid: str) -> _Row:
    with _lock:
        row = _cached(uid, sid)
    if row is not None:
        return row
    row = _fetch(uid, sid)
    with _lock:
        if len(_rows) >= MAX_ENTRIES:
            for key in list(_rows)[: MAX_ENTRIES // 4]:
                del _rows[key]
        _rows[(uid, sid)] = (clock(), row)
    return row


def _check(row: _Row) -> None:
    if not row.active:
        raise SessionRevoked(reason=row.revoke_reason or DenyReason.REVOKED)
    now = now_ms()
    if now >= row.expires_ms or now >= row.absolute_ms:
        raise SessionExpired()
    if row.token_version < row.user_token_version:
        raise SessionRevoked("The token version has changed.", reason=DenyReason.TOKEN_VERSION)


def _flush_due(sid: str) -> bool:
    interval = auth_settings.ACTIVITY_FLUSH_INTERVAL.total_seconds()
    now = clock()
    with _lock:
        last = _flushed.get(sid)
        if last is not None and now - last < interval:
            return False
        if len(_flushed) >= MAX_ENTRIES:
            _flushed.clear()
        _flushed[sid] = now
    return True


def _validated(uid: int, sid: str, row: _Row) -> Validated:
    _check(row)
    return Validated(
        uid=uid, sid=sid, flush_due=_flush_due(sid), expires_ms=row.expires_ms, absolute_ms=row.absolute_ms,
        username=row.username, display_name=row.display_name, avatar_url=row.avatar_url,
        playfab_id=row.playfab_id, token_version=row.token_version,
    )


def validate(*, uid: int, sid: str) -> Validated:
    """The session-token check from SQL; raises ``SessionRevoked``/``SessionExpired``/``StoreUnavailable``."""
    return _validated(uid, sid, _row(uid, sid))


def validate_cached(uid: int, sid: str) -> Validated | None:
    """:func:`validate` from this worker's cache only (no SQL, so no thread hop for async
    callers); ``None`` when the row is not cached. Raises ``SessionRevoked``/``SessionExpired``."""
    with _lock:
        row = _cached(uid, sid)
    return None if row is None else _validated(uid, sid, row)


def _check_access(row: _Row, token_version: int) -> None:
    _check(row)
    if token_version < row.user_token_version:
        raise SessionRevoked("The token version has changed.", reason=DenyReason.TOKEN_VERSION)


def check_access(*, uid: int, sid: str, token_version: int) -> None:
    """The access-token check from SQL: session live, the token's version current (no ``jti`` blacklist).

    Raises ``SessionRevoked``/``SessionExpired``/``StoreUnavailable``.
    """
    _check_access(_row(uid, sid), token_version)


def check_access_cached(*, uid: int, sid: str, token_version: int) -> bool:
    """:func:`check_access` from this worker's cache only; False when the row is not cached."""
    with _lock:
        row = _cached(uid, sid)
    if row is None:
        return False
    _check_access(row, token_version)
    return True


def forget(uid: int, sid: str | None = None) -> None:
    """Drop cached rows of a session (or of every session of ``uid``) after this worker changed them."""
    with _lock:
        if sid is not None:
            _rows.pop((uid, sid), None)
            return
        for key in [k for k in _rows if k[0] == uid]:
            del _rows[key]


def clear() -> None:
    """Forget every cached row and flush time (tests; the end of an outage)."""
    with _lock:
        _rows.clear()
        _flushed.clear()
