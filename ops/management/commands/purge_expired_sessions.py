"""``manage.py purge_expired_sessions``: delete session rows long past their end.

A row goes once it has been over for the retention period (default
``SESSION_RETENTION``, 30 days): revoked that long ago, or past its idle or
absolute expiry by that long. Live sessions are never touched, and Redis needs
nothing (a session's key expires with the session). Their ``SessionEvent``
audit records stay (their session link becomes empty). Safe to run repeatedly
and from cron: a second run finds nothing to do.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from sessions_core.conf import auth_settings
from sessions_core.models import AuthSession, SessionState

from ops.management.commands._common import write_json


class Command(BaseCommand):
    help = (
        "Delete session rows that ended (revoked or expired) more than the retention period ago "
        "(default: AUTHSITE['SESSION_RETENTION'], 30 days). Idempotent; --dry-run only counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=float, help="Retention in days (default: the SESSION_RETENTION setting).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows deleted per transaction (default 1000).")
        parser.add_argument("--json", action="store_true", help="Print the outcome as JSON.")

    def handle(self, *args: Any, **opts: Any) -> None:
        retention = timedelta(days=opts["days"]) if opts["days"] is not None else auth_settings.SESSION_RETENTION
        if retention < timedelta(0):
            raise CommandError("--days must not be negative.")
        if opts["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        cutoff = timezone.now() - retention
        ended = (
            Q(state=SessionState.REVOKED, revoked_at__lt=cutoff)
            | Q(expires_at__lt=cutoff)
            | Q(absolute_expires_at__lt=cutoff)
        )
        candidates = AuthSession.objects.filter(ended)
        count = candidates.count()
        deleted = 0
        if not opts["dry_run"]:
            while True:
                batch = list(candidates.values_list("pk", flat=True)[: opts["batch_size"]])
                if not batch:
                    break
                with transaction.atomic():
                    _, per_model = AuthSession.objects.filter(ended, pk__in=batch).delete()
                deleted += per_model.get(AuthSession._meta.label, 0)
        result = {
            "retention_days": retention.total_seconds() / 86400,
            "cutoff": cutoff,
            "matched": count,
            "deleted": deleted,
            "dry_run": bool(opts["dry_run"]),
        }
        if opts["json"]:
            write_json(self.stdout, result)
        elif opts["dry_run"]:
            self.stdout.write(f"Would delete {count} session row(s) that ended before {cutoff:%Y-%m-%d %H:%M} UTC.")
        else:
            self.stdout.write(f"Deleted {deleted} session row(s) that ended before {cutoff:%Y-%m-%d %H:%M} UTC.")
