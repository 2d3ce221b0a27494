"""Reads: sessions of a user, a session by id or by refresh cookie."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone as dt_timezone
from typing import Any

from django.utils import timezone

from sessions_core import store
from sessions_core.errors import RefreshInvalid
from sessions_core.models import AuthSession, SessionState
from sessions_core.tokens import parse_refresh_token, refresh_matches


async def aget_session(*, sid: str, uid: int) -> AuthSession | None:
    try:
        return await AuthSession.objects.aget(pk=uuid.UUID(hex=sid), user_id=uid)
    except AuthSession.DoesNotExist:
        return None


def session_for_refresh_cookie(token: str | None) -> AuthSession | None:
    """The session a refresh cookie belongs to, if its secret is the current or previous one."""
    if not token:
        return None
    try:
        parts = parse_refresh_token(token)
    except RefreshInvalid:
        return None
    row = AuthSession.objects.filter(pk=uuid.UUID(hex=parts.sid), user_id=parts.uid).first()
    if row is None:
        return None
    if refresh_matches(parts.secret, row.refresh_hash) or refresh_matches(parts.secret, row.refresh_prev_hash):
        return row
    return None


def _iso_ms(value: int) -> str:
    return datetime.fromtimestamp(value / 1000, tz=dt_timezone.utc).isoformat()


def sessions_of_user(*, uid: int, current_sid: str | None = None) -> list[dict[str, Any]]:
    """The user's live sessions, most recently active first, with Redis's activity times."""
    now = timezone.now()
    rows = list(
        AuthSession.objects.filter(
            user_id=uid, state=SessionState.ACTIVE, expires_at__gt=now, absolute_expires_at__gt=now
        )
    )
    seen = store.last_active(uid, [r.id.hex for r in rows])
    out: list[tuple[int, dict[str, Any]]] = []
    for r in rows:
        la = max(seen.get(r.id.hex, 0), int(r.last_active_at.timestamp() * 1000))
        out.append((la, {
                "id": r.id.hex,
                "device": r.user_agent,
                "ip": r.ip,
                "created_at": r.created_at.isoformat(),
                "last_active_at": _iso_ms(la),
                "expires_at": r.expires_at.isoformat(),
                "current": r.id.hex == current_sid,
            }))
    out.sort(key=lambda pair: pair[0], reverse=True)
    return [d for _, d in out]
