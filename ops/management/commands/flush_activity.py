"""``manage.py flush_activity``: carry last-activity times from Redis into the database.

Requests record activity in Redis on every call and the middleware flushes it to
SQL at most once a minute per session; this command flushes every session at
once (before a planned Redis maintenance, or from cron as a backstop). It walks
the store's sessions a SCAN page at a time (``store.iter_activity``: never KEYS;
on a Redis Cluster, every master) and writes each through ``session_flush_activity``,
which never moves a time backwards. Only sessions whose Redis time is newer are written.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone as dt_timezone
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sessions_core.models import AuthSession
from sessions_core import store
from sessions_core.errors import StoreUnavailable
from sessions_core.services import session_flush_activity

from ops.wording import count
from ops.management.commands._common import write_json


class Command(BaseCommand):
    help = "Write every session's last activity from Redis to the database now (SCAN-based; safe to repeat)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Keys per SCAN page and pipeline (default 500).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be written; write nothing.")
        parser.add_argument("--json", action="store_true", help="Print the outcome as JSON.")

    def handle(self, *args: Any, **opts: Any) -> None:
        size = opts["batch_size"]
        if size < 1:
            raise CommandError("--batch-size must be at least 1.")
        scanned = written = 0
        try:
            for n, seen in store.iter_activity(size):
                scanned += n
                written += self._carry({uuid.UUID(hex=sid): ms for sid, ms in seen.items()}, dry_run=opts["dry_run"])
        except StoreUnavailable as e:
            raise CommandError("Redis is unavailable; nothing more was flushed.") from e
        result = {"scanned_keys": scanned, "sessions_updated": written, "dry_run": bool(opts["dry_run"])}
        if opts["json"]:
            write_json(self.stdout, result)
        else:
            verb = "would update" if opts["dry_run"] else "updated"
            self.stdout.write(f"Scanned {count(scanned, 'session key')}; {verb} the last activity of {count(written, 'session')}.")

    def _carry(self, seen: dict[uuid.UUID, int], *, dry_run: bool) -> int:
        """Write the sessions whose Redis time is newer than SQL's; returns how many."""
        if not seen:
            return 0
        in_sql = dict(AuthSession.objects.filter(pk__in=list(seen)).values_list("pk", "last_active_at"))
        n = 0
        for sid, la_ms in seen.items():
            current = in_sql.get(sid)
            if current is None or datetime.fromtimestamp(la_ms / 1000, tz=dt_timezone.utc) <= current:
                continue
            if not dry_run:
                session_flush_activity(sid=sid.hex, last_active_ms=la_ms)
            n += 1
        return n
