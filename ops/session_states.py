"""Reads by computed status: active, revoked or expired (expiry is not a stored state).

Shared by the admin's status filter and the ``sessions``/``revoke_sessions``
commands so they agree on what "expired" means: not revoked, but past the idle
or the absolute expiry.
"""
from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from sessions_core.models import AuthSession, SessionState

STATUSES = ("active", "revoked", "expired")


def status_of(row: AuthSession) -> str:
    """``active``, ``revoked`` or ``expired``."""
    if row.state == SessionState.REVOKED:
        return "revoked"
    return "expired" if row.is_expired else "active"


def filter_status(qs: QuerySet[AuthSession], status: str) -> QuerySet[AuthSession]:
    """Rows of ``qs`` in ``status`` (any other value, e.g. ``all``, leaves ``qs`` as it is)."""
    now = timezone.now()
    expired = Q(expires_at__lte=now) | Q(absolute_expires_at__lte=now)
    if status == "active":
        return qs.filter(state=SessionState.ACTIVE).exclude(expired)
    if status == "revoked":
        return qs.filter(state=SessionState.REVOKED)
    if status == "expired":
        return qs.filter(Q(state=SessionState.ACTIVE) & expired)
    return qs
