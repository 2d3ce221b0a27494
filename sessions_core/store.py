"""The Redis session store: the hot copy of every live session.

One round trip (a script) authenticates a request and records its activity. A
miss means "ask the database" (``lifecycle`` rehydrates), never "signed out".
Redis errors surface as :class:`~sessions_core.errors.StoreUnavailable`; nothing
here swallows a failed write.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from . import lua, redis_keys as keys
from .autopipeline import run_script
from .conf import auth_settings
from .errors import SessionExpired, SessionRevoked, StoreUnavailable
from .redis_client import REDIS_ERRORS, get_async_redis, get_redis


_DISCORD_AVATAR = re.compile(r"^https://cdn\.discordapp\.com/avatars/(\d{1,20})/((?:a_)?[0-9a-f]{32})\.png$")


def pack_avatar(url: str) -> str:
    """Discord CDN avatar URLs shrink to ``id/hash`` (<= 64 bytes keeps the user hash compact)."""
    m = _DISCORD_AVATAR.match(url)
    return f"~{m.group(1)}/{m.group(2)}" if m else url


def unpack_avatar(value: str) -> str:
    if value.startswith("~"):
        return f"https://cdn.discordapp.com/avatars/{value[1:]}.png"
    return value


def now_ms() -> int:
    return int(time.time() * 1000)


@contextmanager
def redis_guard() -> Iterator[None]:
    """Turn a Redis connection failure into ``StoreUnavailable`` (the clear 503)."""
    try:
        yield
    except REDIS_ERRORS as e:
        raise StoreUnavailable() from e


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else ("" if v is None else str(v))


@dataclass(frozen=True)
class SessionRecord:
    """What Redis keeps of a session (built from the SQL row on create or rehydration)."""

    uid: int
    sid: str
    active: bool
    revoke_reason: str
    expires_ms: int
    absolute_ms: int
    token_version: int
    user_token_version: int
    last_active_ms: int
    refresh_hash: str
    refresh_prev_hash: str
    generation: int
    rotated_ms: int
    username: str
    display_name: str
    avatar_url: str
    playfab_id: str

    def fields(self) -> dict[str, str | int]:
        """The session hash (values kept <= 64 bytes: Redis's compact encoding)."""
        return {
            "st": "a" if self.active else "r", "rr": self.revoke_reason,
            "exp": self.expires_ms, "abs": self.absolute_ms, "tv": self.token_version,
            "la": self.last_active_ms, "fl": self.last_active_ms, "cur": self.refresh_hash,
            "prev": self.refresh_prev_hash, "gen": self.generation, "rot": self.rotated_ms,
        }

    def user_fields(self) -> dict[str, str | int]:
        """The user hash, shared by the user's sessions."""
        return {
            "tv": self.user_token_version, "un": self.username, "dn": self.display_name,
            "av": pack_avatar(self.avatar_url), "pf": self.playfab_id,
        }

    def pexpireat(self) -> int:
        if not self.active:
            return now_ms() + int(auth_settings.REVOKED_TOMBSTONE_TTL.total_seconds() * 1000)
        return min(self.expires_ms, self.absolute_ms)


@dataclass(frozen=True)
class Validated:
    """A session that passed the hot-path check."""

    uid: int
    sid: str
    flush_due: bool
    expires_ms: int
    absolute_ms: int
    username: str
    display_name: str
    avatar_url: str
    playfab_id: str
    token_version: int


def _user_ttl_ms() -> int:
    return int(auth_settings.SESSION_ABSOLUTE_TTL.total_seconds() * 1000)


def raise_for(status: str, reason: str) -> None:
    """Raise the error for a refused session state (``expired`` or ``revoked`` with a reason)."""
    if status == "expired" or reason == "expired":
        raise SessionExpired()
    if status == "revoked":
        raise SessionRevoked(reason=reason or "revoked")


# --- hot path (async) ------------------------------------------------------------------


async def avalidate(uid: int, sid: str) -> Validated | None:
    """Check a session and touch its activity in one round trip; ``None`` on a Redis miss."""
    r = get_async_redis()
    flush_ms = int(auth_settings.ACTIVITY_FLUSH_INTERVAL.total_seconds() * 1000)
    try:
        res = await run_script(
            r, lua.VALIDATE, 3, keys.session(uid, sid), keys.user(uid), keys.user_sessions(uid), now_ms(), flush_ms, sid
        )
    except REDIS_ERRORS as e:
        raise StoreUnavailable() from e
    status = _s(res[0])
    if status == "miss":
        return None
    if status != "ok":
        raise_for(status, _s(res[1]))
    return Validated(
        uid=uid, sid=sid, flush_due=_s(res[1]) == "1", expires_ms=int(res[2]), absolute_ms=int(res[3]),
        username=_s(res[4]), display_name=_s(res[5]), avatar_url=unpack_avatar(_s(res[6])), playfab_id=_s(res[7]),
        token_version=int(res[8]),
    )


async def acheck_access(uid: int, sid: str, jti: str, token_version: int) -> bool | None:
    """Handshake check for an access token: True if good, ``None`` on a miss; raises if refused."""
    r = get_async_redis()
    try:
        res = await run_script(
            r, lua.CHECK_ACCESS, 3, keys.session(uid, sid), keys.user(uid), keys.blacklist(uid, jti), int(time.time())
        )
    except REDIS_ERRORS as e:
        raise StoreUnavailable() from e
    status = _s(res[0])
    if status == "miss":
        return None
    if status == "blacklisted":
        raise SessionRevoked("This access token has been revoked.", reason="blacklisted")
    if status != "ok":
        raise_for(status, _s(res[1]))
    if token_version < int(res[2]):
        raise SessionRevoked("The token version has changed.", reason="token_version")
    return True


# --- sync side (services, admin, commands) ---------------------------------------------


def load(record: SessionRecord) -> bool:
    """Write a session rebuilt from SQL unless Redis already has one; True if written.

    The user's fields (name, avatar, PlayFab id, token version) are refreshed either way.
    """
    r = get_redis()
    session_fields = record.fields()
    args: list[str | int] = [record.pexpireat(), _user_ttl_ms(), record.sid, len(session_fields)]
    for k, v in [*session_fields.items(), *record.user_fields().items()]:
        args += [k, v]
    with redis_guard():
        created = r.eval(
            lua.LOAD, 3, keys.session(record.uid, record.sid), keys.user(record.uid), keys.user_sessions(record.uid),
            *args,
        )
    return bool(created)


def put(record: SessionRecord) -> None:
    """Write a new session (overwriting any stale copy)."""
    r = get_redis()
    with redis_guard():
        r.delete(keys.session(record.uid, record.sid))
    load(record)


def refresh_state(uid: int, sid: str) -> dict[str, str] | None:
    """The fields a refresh decides on, or ``None`` on a miss."""
    r = get_redis()
    with redis_guard():
        vals = r.hmget(keys.session(uid, sid), ["st", "rr", "exp", "abs", "cur", "prev", "gen", "rot", "la"])
    if vals[0] is None:
        return None
    return dict(zip(["st", "rr", "exp", "abs", "cur", "prev", "gen", "rot", "la"], (_s(v) for v in vals)))


def apply_rotation(
    *, uid: int, sid: str, cur: str, prev: str, generation: int, rotated_ms: int, expires_ms: int, absolute_ms: int
) -> None:
    r = get_redis()
    with redis_guard():
        r.eval(
            lua.APPLY_ROTATION, 1, keys.session(uid, sid), cur, prev, generation, rotated_ms, expires_ms,
            min(expires_ms, absolute_ms),
        )


def revoke(*, uid: int, sid: str, reason: str) -> int:
    """Tombstone the session, drop it from the user's set, blacklist its access tokens."""
    r = get_redis()
    tomb = int(auth_settings.REVOKED_TOMBSTONE_TTL.total_seconds() * 1000)
    bl_prefix = keys.blacklist(uid, "")
    with redis_guard():
        return int(
            r.eval(
                lua.REVOKE, 3, keys.session(uid, sid), keys.user_sessions(uid), keys.session_jtis(uid, sid),
                reason, tomb, int(time.time()), sid, bl_prefix,
            )
        )


def blacklist_jti(*, uid: int, jti: str, exp: int) -> None:
    if exp <= time.time():
        return
    with redis_guard():
        get_redis().set(keys.blacklist(uid, jti), "1", exat=exp)


def record_jti(*, uid: int, sid: str, jti: str, exp: int) -> None:
    """Remember a minted access token so revoking its session blacklists it."""
    r = get_redis()
    key = keys.session_jtis(uid, sid)
    with redis_guard():
        pipe = r.pipeline(transaction=False)
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
    r = get_redis()
    with redis_guard():
        pipe = r.pipeline(transaction=False)
        for sid in sids:
            pipe.hget(keys.session(uid, sid), "la")
        vals = pipe.execute()
    return {sid: int(v) for sid, v in zip(sids, vals) if v is not None}


def ping() -> bool:
    with redis_guard():
        return bool(get_redis().ping())
