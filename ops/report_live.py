"""The resilience notes' verification queries, run against this deployment's database.

The notes end with three checks an operator runs by hand (sessions that the
backend can restore, mass invalidations, concurrent-refresh tolerance); here
each becomes a row of ``auth_report`` with the live numbers of the last day.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import DatabaseError
from django.db.models import Count, Q
from django.utils import timezone

from sessions_core.reasons import ReuseCause
from ops.report import IMPLEMENTED, UNAVAILABLE, Point, Probe, human

SECTION = "Verification"


def verification_points(probe: Probe, s: Any) -> list[Point]:
    """V1-V3: the notes' verification queries, answered from SQL for the last 24 hours."""
    from sessions_core.models import AuthSession, SessionEvent, SessionState

    now = timezone.now()
    day = now - timedelta(hours=24)
    try:
        live = AuthSession.objects.filter(state=SessionState.ACTIVE, expires_at__gt=now, absolute_expires_at__gt=now)
        # The session token lapses SESSION_TOKEN_TTL after the last rotation; the refresh cookie still works.
        restorable = live.filter(
            Q(refresh_rotated_at__lt=now - s.SESSION_TOKEN_TTL)
            | Q(refresh_rotated_at__isnull=True, created_at__lt=now - s.SESSION_TOKEN_TTL)
        ).count()
        ended = dict(
            SessionEvent.objects.filter(kind__in=["revoked", "evicted"], created_at__gte=day)
            .order_by().values("cause").annotate(n=Count("id")).values_list("cause", "n")
        )
        reuse = dict(
            SessionEvent.objects.filter(kind="refresh_reuse", created_at__gte=day)
            .order_by().values("cause").annotate(n=Count("id")).values_list("cause", "n")
        )
    except DatabaseError as e:
        down = f"the database does not answer ({type(e).__name__})"
        return [Point(ref, SECTION, point, UNAVAILABLE, down) for ref, point in (
            ("V1", "Sessions with an expired access token but a valid refresh token"),
            ("V2", "Mass invalidations should be rare"),
            ("V3", "Concurrent refresh detected - current tokens returned"),
        )]
    graced = reuse.pop(ReuseCause.CONCURRENT_REFRESH, 0)
    # A recovered lost answer is recorded beside reuse but is none: the session goes on.
    recovered = reuse.pop(ReuseCause.LOST_ANSWER_RECOVERED, 0)
    by_cause = ", ".join(f"{c or 'unknown'} {n}" for c, n in sorted(ended.items(), key=lambda kv: -kv[1])) or "none"
    return [
        Point("V1", SECTION, "Sessions with an expired access token but a valid refresh token", IMPLEMENTED,
              f"{restorable} live session(s) whose session token has lapsed: the next page load or "
              "/auth/validate restores them from the refresh cookie", {"SESSION_TOKEN_TTL": human(s.SESSION_TOKEN_TTL)}),
        Point("V2", SECTION, "Mass invalidations should be rare", IMPLEMENTED,
              f"{sum(ended.values())} session(s) ended in the last 24 h, by cause: {by_cause}",
              {"MAX_SESSIONS_PER_USER": human(s.MAX_SESSIONS_PER_USER)},
              "reuse revokes one session, never all of a user's"),
        Point("V3", SECTION, "Concurrent refresh detected - current tokens returned", IMPLEMENTED,
              f"{graced} grace-window replay(s) answered idempotently, {recovered} lost answer(s) recovered and "
              f"{sum(reuse.values())} reuse detection(s) in the last 24 h (SessionEvent kind refresh_reuse; "
              "security log events refresh.reuse and refresh.recovered)",
              {"REFRESH_GRACE": human(s.REFRESH_GRACE)}),
    ]
