"""Refresh-token rotation with reuse detection and an idempotent grace window.

The database arbitrates: one conditional UPDATE (``WHERE refresh_hash = presented``)
decides the single winner of concurrent refreshes, and Redis mirrors it. The next
refresh secret is a keyed hash of the presented one (``tokens.next_refresh``), so
every caller holding the immediate predecessor inside the grace window gets the
identical successor, and nothing is stored in plain text.

Outcomes for a presented token of generation g (current generation n):
- g == n, hash matches current: rotate (winner).
- hash matches the predecessor, within the grace window: the current tokens
  (recorded as reuse, cause ``concurrent_refresh``); it does not count against
  the rate limit.
- predecessor after the window, or an older ancestor: reuse; that session alone
  is revoked (cause ``client_lost_answer`` when the session was not used since the
  rotation, ``replay_outside_window`` otherwise, ``ancestor_replay`` for older).
- anything else: ``RefreshInvalid``, nothing changes, and nothing is said about
  the session's state (revoked, expired) to a caller who holds no token of it.
"""
from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from sessions_core import security_log, store
from sessions_core.conf import auth_settings
from sessions_core.errors import AccountDisabled, RefreshInvalid, RefreshReused, SessionExpired, SessionRevoked
from sessions_core.instrument import timed
from sessions_core.models import AuthSession, RevokeReason, SessionEvent, SessionState
from sessions_core.reasons import ReuseCause
from sessions_core.services.issue import IssuedTokens, tokens_for
from sessions_core.services.sessions import session_revoke
from sessions_core.signals import session_rotated
from sessions_core.store.records import ms
from sessions_core.tokens import (
    RefreshParts, next_refresh, open_refresh_seed, parse_refresh_token, refresh_hash, refresh_matches,
)


@dataclass(frozen=True)
class RefreshOutcome:
    tokens: IssuedTokens
    # "rotated" for the winner, "grace" for an idempotent replay.
    kind: str


def _load_row(parts: RefreshParts) -> AuthSession:
    try:
        return AuthSession.objects.select_related("user").get(pk=uuid.UUID(hex=parts.sid), user_id=parts.uid)
    except AuthSession.DoesNotExist as e:
        raise RefreshInvalid() from e


def _seed(row: AuthSession) -> bytes | None:
    try:
        return open_refresh_seed(row.refresh_seed_enc)
    except ValueError as e:
        # Sealed under a SECRET_KEY no longer configured (neither current nor fallback).
        raise RefreshInvalid("The session cannot be refreshed with the configured SECRET_KEY.") from e


def _ensure_live(row: AuthSession) -> None:
    """Raise why a session whose token matched may not refresh (revoked, expired, user disabled)."""
    if row.state != SessionState.ACTIVE:
        raise SessionRevoked(reason=row.revoke_reason or "revoked")
    if row.is_expired:
        raise SessionExpired()
    if not row.user.is_active:
        raise AccountDisabled()


def _record_reuse(row: AuthSession, *, cause: str, ip: str | None) -> None:
    SessionEvent.objects.create(
        kind=SessionEvent.Kind.REFRESH_REUSE, cause=cause, session_id=row.pk, user_id=row.user_id, ip=ip
    )
    security_log.event("refresh.reuse", user_id=row.user_id, session_id=row.id.hex, cause=cause, ip=ip)


def _reuse(row: AuthSession, *, cause: str, ip: str | None) -> RefreshReused:
    _record_reuse(row, cause=cause, ip=ip)
    session_revoke(session=row, reason=RevokeReason.REUSE, cause=cause)
    return RefreshReused(reason=RevokeReason.REUSE)


def _is_current(parts: RefreshParts, row: AuthSession) -> bool:
    return refresh_matches(parts.secret, row.refresh_hash) and parts.generation == row.refresh_generation


def _is_predecessor(parts: RefreshParts, row: AuthSession) -> bool:
    return refresh_matches(parts.secret, row.refresh_prev_hash) and parts.generation + 1 == row.refresh_generation


def _is_ancestor(parts: RefreshParts, row: AuthSession, seed: bytes | None) -> bool:
    """Walk the chain forward from ``parts``; True if it reaches the current token."""
    steps = row.refresh_generation - parts.generation
    if steps < 2 or steps > auth_settings.REFRESH_MAX_ANCESTRY:
        return False
    cur = parts
    for _ in range(steps):
        cur = next_refresh(cur, seed)
    return refresh_matches(cur.secret, row.refresh_hash)


@timed("refresh")
def session_refresh(*, refresh_token: str, ip: str | None = None) -> RefreshOutcome:
    """Rotate a refresh token; raises ``RefreshInvalid``, ``RefreshReused``, ``SessionRevoked``,
    ``SessionExpired``, ``AccountDisabled`` or ``StoreUnavailable`` (the database away; then
    nothing changed).

    A token that is not the session's current one, its predecessor or an ancestor
    gets ``RefreshInvalid`` whatever the session's state: only a caller holding a
    token of the chain learns that it was revoked or expired.
    """
    parts = parse_refresh_token(refresh_token)
    presented = refresh_hash(parts.secret)
    now = timezone.now()

    # Fast answer for a sibling tab's replay: Redis says the chain just moved on.
    try:
        state = store.rotation_state(parts.uid, parts.sid)
    except SessionRevoked as e:  # no such session in SQL either
        raise RefreshInvalid() from e
    row = _load_row(parts)
    seed = _seed(row)
    if state.live and hmac.compare_digest(state.refresh_prev_hash, presented) and ms(now) - state.rotated_ms <= _grace_ms():
        if _answers_for_current(row, parts, seed):
            return _grace_answer(row, parts, ip)
        # Redis is written before the winner's transaction commits: SQL has not caught
        # up yet, so take the slow path, whose conditional UPDATE waits for that commit.

    current = _is_current(parts, row)
    if not current and not _is_predecessor(parts, row) and not _is_ancestor(parts, row, seed):
        raise RefreshInvalid()
    _ensure_live(row)

    if current:
        successor = next_refresh(parts, seed)
        new_expiry = row.expires_at
        if row.expires_at - now < auth_settings.SESSION_SLIDE_WHEN_REMAINING:
            new_expiry = min(now + auth_settings.SESSION_IDLE_TTL, row.absolute_expires_at)
        rotated = {
            "refresh_hash": refresh_hash(successor.secret), "refresh_prev_hash": row.refresh_hash,
            "refresh_generation": successor.generation, "refresh_rotated_at": now, "expires_at": new_expiry,
            "last_active_at": now,
        }
        # The services' write order: SQL decides, Redis follows, then the commit. With
        # Redis unreachable the store skips its mirror write (the recovery writes it from
        # SQL) and the rotation commits: the answer carries the successor.
        with transaction.atomic():
            won = AuthSession.objects.filter(
                pk=row.pk, state=SessionState.ACTIVE, refresh_hash=row.refresh_hash,
                expires_at__gt=now, absolute_expires_at__gt=now,
            ).update(**rotated)
            if won:
                # The row now holds exactly what this UPDATE wrote: no need to read it back.
                for field, value in rotated.items():
                    setattr(row, field, value)
                store.apply_rotation(
                    uid=parts.uid, sid=parts.sid, cur=row.refresh_hash, prev=row.refresh_prev_hash,
                    generation=row.refresh_generation, rotated_ms=ms(now), expires_ms=ms(row.expires_at),
                    absolute_ms=ms(row.absolute_expires_at),
                )
        if won:
            security_log.event("refresh.rotated", user_id=row.user_id, session_id=parts.sid, ip=ip)
            # Listeners (the sign-in app's PlayFab renewal) never raise (DESIGN.md).
            session_rotated.send(sender=AuthSession, session=row)
            return RefreshOutcome(tokens=tokens_for(row, row.user, successor), kind="rotated")
        # Lost the race: fall through with the winner's state.
        row = _load_row(parts)
        _ensure_live(row)

    if _is_predecessor(parts, row):
        rotated_at = row.refresh_rotated_at or row.created_at
        if now - rotated_at <= auth_settings.REFRESH_GRACE:
            return _grace_answer(row, parts, ip)
        unused = row.last_active_at <= rotated_at + timedelta(seconds=1)
        raise _reuse(row, cause=ReuseCause.CLIENT_LOST_ANSWER if unused else ReuseCause.REPLAY_OUTSIDE_WINDOW, ip=ip)

    if _is_ancestor(parts, row, seed):
        raise _reuse(row, cause=ReuseCause.ANCESTOR_REPLAY, ip=ip)
    raise RefreshInvalid()


def _grace_ms() -> int:
    return int(auth_settings.REFRESH_GRACE.total_seconds() * 1000)


def _answers_for_current(row: AuthSession, parts: RefreshParts, seed: bytes | None) -> bool:
    """True if ``parts`` is the immediate predecessor of the row's current token."""
    successor = next_refresh(parts, seed)
    return successor.generation == row.refresh_generation and refresh_matches(successor.secret, row.refresh_hash)


def _grace_answer(row: AuthSession, parts: RefreshParts, ip: str | None) -> RefreshOutcome:
    seed = _seed(row)
    if not _answers_for_current(row, parts, seed):
        # The predecessor check passed but the chain has moved on since: not ours to answer.
        raise RefreshInvalid()
    _ensure_live(row)
    successor = next_refresh(parts, seed)
    _record_reuse(row, cause=ReuseCause.CONCURRENT_REFRESH, ip=ip)
    return RefreshOutcome(tokens=tokens_for(row, row.user, successor), kind="grace")
