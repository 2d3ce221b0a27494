"""What the store keeps of a session, and what it answers with.

Only this package knows how these travel in Redis (field names, avatar packing);
callers see typed records.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime

from sessions_core.conf import auth_settings
from sessions_core.models import AuthSession, SessionState, User

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


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


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


def record_for(row: AuthSession, user: User) -> SessionRecord:
    """The Redis copy of a session row (user fields travel with it: no SQL on the hot path)."""
    return SessionRecord(
        uid=user.pk,
        sid=row.id.hex,
        active=row.state == SessionState.ACTIVE and not row.is_expired,
        revoke_reason=row.revoke_reason or ("expired" if row.is_expired else ""),
        expires_ms=ms(row.expires_at),
        absolute_ms=ms(row.absolute_expires_at),
        token_version=row.token_version,
        user_token_version=user.token_version,
        last_active_ms=ms(row.last_active_at),
        refresh_hash=row.refresh_hash,
        refresh_prev_hash=row.refresh_prev_hash,
        generation=row.refresh_generation,
        rotated_ms=ms(row.refresh_rotated_at or row.created_at),
        username=user.username,
        display_name=user.display_name(),
        avatar_url=user.avatar_url,
        playfab_id=user.playfab_id,
    )


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


@dataclass(frozen=True)
class RotationState:
    """What a refresh decides on first: is the session live, and when did the chain last move."""

    live: bool
    refresh_prev_hash: str
    rotated_ms: int
