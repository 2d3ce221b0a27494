"""Recovery from degraded mode: what SQL decided while Redis was away wins.

While the breaker is open, revokes and rotations are written to SQL only. Every
such change leaves a timestamp on its row (``revoked_at``, ``refresh_rotated_at``),
so a worker that finds Redis back mirrors every row changed since it first saw
Redis fail (less ``STORE_RECONCILE_MARGIN``) before it reads Redis again:

- a revoked session is tombstoned in Redis (the ``REVOKE`` script: state, reason,
  its access tokens blacklisted) and its user's token version raised to SQL's;
- a rotated session's refresh state and idle expiry are written if Redis's
  generation is older (``APPLY_ROTATION`` never rolls a newer one back);
- a session Redis does not have is left alone: a miss rebuilds it from SQL.

The query is SQL's, not this worker's memory, so it covers changes made by any
worker; each worker that was degraded runs it, and all of them may run it at
once (every write is idempotent). Sessions revoked during the outage then get
their ``session_revoked`` signal again (``replayed=True``), so the hub closes
their sockets wherever they are.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q

from sessions_core.conf import auth_settings
from sessions_core.models import AuthSession, SessionState
from sessions_core.signals import session_revoked
from sessions_core.store import degraded, keys, lua
from sessions_core.store.client import get_redis
from sessions_core.store.records import ms

BATCH = 500


@dataclass
class Replayed:
    """What a reconcile wrote: how many rows, and the revoked sessions to announce."""

    mirrored: int = 0
    revoked: list[tuple[int, str, str]] = field(default_factory=list)

    def merge(self, other: "Replayed") -> None:
        """Add another pass's rows (a session revoked in both is announced once)."""
        self.mirrored += other.mirrored
        self.revoked += [r for r in other.revoked if r not in self.revoked]


def reconcile(*, since: datetime) -> Replayed:
    """Mirror into Redis every session revoked or rotated in SQL at or after ``since``.

    Raises Redis errors and ``DatabaseError`` (the caller keeps the breaker open and retries).
    """
    out = Replayed()
    rows = (
        AuthSession.objects.select_related("user")
        .filter(Q(revoked_at__gte=since) | Q(refresh_rotated_at__gte=since))
        .order_by("pk")
    )
    r = get_redis()
    tomb = int(auth_settings.REVOKED_TOMBSTONE_TTL.total_seconds() * 1000)
    pipe = r.pipeline(transaction=False)
    pending = 0
    for row in rows.iterator(chunk_size=BATCH):
        uid, sid = row.user_id, row.id.hex
        if row.state != SessionState.ACTIVE:
            pipe.eval(
                lua.REVOKE, 3, keys.session(uid, sid), keys.user_sessions(uid), keys.session_jtis(uid, sid),
                row.revoke_reason, tomb, int(time.time()), sid, keys.blacklist(uid, ""),
            )
            pipe.eval(lua.SET_TV_MAX, 1, keys.user(uid), row.user.token_version)
            out.revoked.append((uid, sid, row.revoke_reason or "revoked"))
        else:
            rotated = row.refresh_rotated_at or row.created_at
            pipe.eval(
                lua.APPLY_ROTATION, 1, keys.session(uid, sid), row.refresh_hash, row.refresh_prev_hash,
                row.refresh_generation, ms(rotated), ms(row.expires_at),
                min(ms(row.expires_at), ms(row.absolute_expires_at)),
            )
        out.mirrored += 1
        pending += 1
        if pending >= BATCH:
            pipe.execute()
            pipe, pending = r.pipeline(transaction=False), 0
    if pending:
        pipe.execute()
    degraded.clear()
    return out


def announce(replayed: Replayed) -> None:
    """Re-send ``session_revoked`` for the sessions revoked while degraded (their sockets close)."""
    for uid, sid, reason in replayed.revoked:
        session_revoked.send(sender=AuthSession, uid=uid, sid=sid, reason=reason, replayed=True)
