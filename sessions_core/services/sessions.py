"""Create, revoke, rehydrate; the token-version bump; activity flush.

Order of writes: the database decides inside a transaction and Redis is written
before the commit; with Redis unreachable the store leaves its write to the
recovery (degraded mode, see ``services/__init__``).
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone as dt_timezone

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from sessions_core import security_log, store
from sessions_core.conf import auth_settings
from sessions_core.errors import AccountDisabled
from sessions_core.models import AuthSession, RevokeReason, SessionEvent, SessionState, User
from sessions_core.reasons import EvictCause
from sessions_core.signals import session_revoked
from sessions_core.tokens import new_refresh, new_refresh_seed, refresh_hash, seal_refresh_seed
from sessions_core.services.issue import IssuedTokens, tokens_for

log = logging.getLogger(__name__)


def session_create(
    *,
    user: User,
    ip: str | None,
    user_agent: str,
    playfab_ticket_enc: str = "",
    playfab_ticket_expires_at: datetime | None = None,
) -> IssuedTokens:
    """Start a session for ``user``; evicts the least recently active beyond the cap.

    Raises ``AccountDisabled`` for a deactivated user and ``DatabaseError`` when the
    database cannot be written (nothing created either way); with Redis away the
    session is created in SQL alone (a Redis miss rebuilds it later).
    """
    now = timezone.now()
    sid = uuid.uuid4()
    refresh = new_refresh(uid=user.pk, sid=sid.hex)
    evicted: list[AuthSession] = []
    with transaction.atomic():
        # The UPDATE takes the user's row lock (and SQLite's write lock) first, so
        # concurrent sign-ins of one user count and evict one after the other,
        # and a deactivation either precedes this check or revokes what it made.
        User.objects.filter(pk=user.pk).update(last_login=now)
        user.refresh_from_db(fields=["token_version", "last_login", "is_active"])
        if not user.is_active:
            raise AccountDisabled()
        live = list(
            AuthSession.objects.filter(
                user=user, state=SessionState.ACTIVE, expires_at__gt=now, absolute_expires_at__gt=now
            )
        )
        overflow = len(live) - (auth_settings.MAX_SESSIONS_PER_USER - 1)
        if overflow > 0:
            seen = store.last_active(user.pk, [s.id.hex for s in live])

            def recency(s: AuthSession) -> int:
                return max(seen.get(s.id.hex, 0), int(s.last_active_at.timestamp() * 1000))

            for victim in sorted(live, key=recency)[:overflow]:
                if _revoke_row(victim, reason=RevokeReason.EVICTED, actor=None, now=now):
                    evicted.append(victim)
        row = AuthSession.objects.create(
            id=sid,
            user=user,
            created_at=now,
            last_active_at=now,
            expires_at=min(now + auth_settings.SESSION_IDLE_TTL, now + auth_settings.SESSION_ABSOLUTE_TTL),
            absolute_expires_at=now + auth_settings.SESSION_ABSOLUTE_TTL,
            user_agent=(user_agent or "")[:300],
            ip=ip,
            refresh_hash=refresh_hash(refresh.secret),
            refresh_seed_enc=seal_refresh_seed(new_refresh_seed()),
            token_version=user.token_version,
            playfab_ticket_enc=playfab_ticket_enc,
            playfab_ticket_expires_at=playfab_ticket_expires_at,
        )
        store.put(store.record_for(row, user))
        issued = tokens_for(row, user, refresh)
    for victim in evicted:
        _after_revoke(victim, reason=RevokeReason.EVICTED, actor=None, cause=EvictCause.MAX_SESSIONS)
    security_log.event("session.created", user_id=user.pk, session_id=sid.hex, ip=ip)
    return issued


def _revoke_row(row: AuthSession, *, reason: str, actor: User | None, now: datetime) -> bool:
    """Conditionally revoke one row in SQL and in Redis (caller holds a transaction)."""
    changed = AuthSession.objects.filter(pk=row.pk, state=SessionState.ACTIVE).update(
        state=SessionState.REVOKED, revoke_reason=reason, revoked_at=now, revoked_by=actor
    )
    store.revoke(uid=row.user_id, sid=row.id.hex, reason=reason)
    return bool(changed)


def _after_revoke(row: AuthSession, *, reason: str, actor: User | None, cause: str = "", note: str = "") -> None:
    kind = SessionEvent.Kind.EVICTED if reason == RevokeReason.EVICTED else SessionEvent.Kind.REVOKED
    SessionEvent.objects.create(
        kind=kind, cause=cause or reason, session_id=row.pk, user_id=row.user_id, actor=actor, note=note[:300]
    )
    security_log.event(
        "session.evicted" if kind == SessionEvent.Kind.EVICTED else "session.revoked",
        user_id=row.user_id, session_id=row.id.hex, reason=reason, actor_id=actor.pk if actor else None,
    )
    session_revoked.send(sender=AuthSession, uid=row.user_id, sid=row.id.hex, reason=reason)


def session_revoke(
    *, session: AuthSession, reason: str, actor: User | None = None, cause: str = "", note: str = ""
) -> bool:
    """End one session everywhere (SQL, Redis, open sockets). Idempotent; True if it was active."""
    with transaction.atomic():
        changed = _revoke_row(session, reason=reason, actor=actor, now=timezone.now())
    if changed:
        _after_revoke(session, reason=reason, actor=actor, cause=cause, note=note)
    return changed


def session_revoke_all(
    *, user: User, reason: str, actor: User | None = None, note: str = "", keep_sid: str | None = None
) -> int:
    """End every active session of ``user`` (except ``keep_sid``); returns how many."""
    now = timezone.now()
    done: list[AuthSession] = []
    with transaction.atomic():
        rows = AuthSession.objects.select_for_update().filter(user=user, state=SessionState.ACTIVE)
        for row in rows:
            if keep_sid and row.id.hex == keep_sid:
                continue
            if _revoke_row(row, reason=reason, actor=actor, now=now):
                done.append(row)
    for row in done:
        _after_revoke(row, reason=reason, actor=actor, note=note)
    return len(done)


def user_bump_token_version(*, user: User, actor: User | None = None, note: str = "") -> int:
    """Invalidate every token of ``user`` at once; returns the new version."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
        user.refresh_from_db(fields=["token_version"])
        store.set_user_token_version(user.pk, user.token_version)
    SessionEvent.objects.create(kind=SessionEvent.Kind.TOKEN_VERSION, user=user, actor=actor, note=note[:300])
    session_revoke_all(user=user, reason=RevokeReason.TOKEN_VERSION, actor=actor, note=note)
    return user.token_version


def user_deactivate(*, user: User, actor: User | None = None, note: str = "") -> int:
    """Keep a deactivated user out everywhere at once; returns how many sessions ended.

    Sets ``is_active`` off (if it is not already), bumps the token version (SQL and
    the Redis user hash, so the hub's hot-path check refuses every access token
    without asking SQL) and revokes every session with reason ``account_disabled``
    (tombstones in Redis, open sockets closed). Sign-in and refresh also refuse an
    inactive user, from SQL. Raises ``StoreUnavailable`` when Redis cannot be written.
    """
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=False, token_version=F("token_version") + 1)
        user.refresh_from_db(fields=["is_active", "token_version"])
        store.set_user_token_version(user.pk, user.token_version)
    SessionEvent.objects.create(kind=SessionEvent.Kind.TOKEN_VERSION, user=user, actor=actor, note=(note or "account deactivated")[:300])
    return session_revoke_all(user=user, reason=RevokeReason.ACCOUNT_DISABLED, actor=actor, note=note or "account deactivated")


def session_flush_activity(*, sid: str, last_active_ms: int) -> None:
    """Carry Redis's last-active time into SQL (never moves it backwards)."""
    when = datetime.fromtimestamp(last_active_ms / 1000, tz=dt_timezone.utc)
    AuthSession.objects.filter(pk=uuid.UUID(hex=sid), last_active_at__lt=when).update(last_active_at=when)
