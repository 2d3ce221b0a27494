"""``manage.py sessions``: list sessions, filtered by user and state."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sessions_core.models import AuthSession
from ops.session_states import STATUSES, filter_status, status_of

from ops.management.commands._common import fmt_time, user_by_name, user_label, write_json, write_table


class Command(BaseCommand):
    help = "List sessions (newest first), optionally of one user and in one state."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", metavar="NAME", help="Only this user's sessions (account name, Discord id, user id or display name).")
        parser.add_argument("--state", choices=(*STATUSES, "all"), default="active", help="Default: active.")
        parser.add_argument("--limit", type=int, default=100, help="At most this many rows (default 100).")
        parser.add_argument("--json", action="store_true", help="Print a JSON list.")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        qs = AuthSession.objects.select_related("user").order_by("-created_at")
        if opts["user"]:
            qs = qs.filter(user=user_by_name(opts["user"]))
        rows = list(filter_status(qs, opts["state"])[: opts["limit"]])
        data: list[dict[str, Any]] = [
            {
                "id": r.id.hex, "user": r.user.username, "user_name": r.user.display_name(), "user_id": r.user_id, "state": status_of(r),
                "revoke_reason": r.revoke_reason, "created_at": r.created_at, "last_active_at": r.last_active_at,
                "expires_at": r.expires_at, "absolute_expires_at": r.absolute_expires_at,
                "ip": r.ip, "device": r.user_agent,
            }
            for r in rows
        ]
        if opts["json"]:
            write_json(self.stdout, data)
            return
        if not data:
            self.stdout.write("No sessions match.")
            return
        write_table(
            self.stdout,
            ["id", "user", "state", "reason", "created", "last active", "expires", "ip", "device"],
            [
                [d["id"], user_label(r.user), d["state"], d["revoke_reason"], fmt_time(d["created_at"]),
                 fmt_time(d["last_active_at"]), fmt_time(d["expires_at"]), d["ip"], d["device"]]
                for d, r in zip(data, rows)
            ],
        )
