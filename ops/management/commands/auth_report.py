"""``manage.py auth_report``: how much of the target architecture this deployment does.

Answers "how much of this do we already do, and which parts differ?" for the
deployment it runs in: every point of the target architecture and of the
resilience notes, with a status computed from the live configuration (settings,
Redis, channel layer, mounted routes); browser-side points name their module and test, the setting
values it depends on, and what differs. Secrets appear only as set/unset.
"""
from __future__ import annotations

import textwrap
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ops.report import STATUSES
from ops.report_points import build_report, summary

from ops.management.commands._common import write_json


class Command(BaseCommand):
    help = (
        "Table of every point of the target architecture and the resilience notes with this "
        "deployment's status (computed live), the settings it depends on, and what differs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print {points: [...], summary: {...}} as JSON.")
        parser.add_argument("--status", choices=STATUSES, action="append", help="Only points with this status (repeatable).")
        parser.add_argument("--width", type=int, default=110, help="Text width of the table (default 110).")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["width"] < 60:
            raise CommandError("--width must be at least 60.")
        points = build_report()
        counts = summary(points)
        if opts["status"]:
            points = [p for p in points if p.status in opts["status"]]
        if opts["json"]:
            write_json(self.stdout, {"points": [p.as_dict() for p in points], "summary": counts})
            return
        width = opts["width"]
        ref_w, st_w = 5, 15
        indent = " " * (ref_w + st_w + 2)
        section = None
        self.stdout.write(f"{'REF':<{ref_w}} {'STATUS':<{st_w}} POINT / THIS DEPLOYMENT")
        for p in points:
            if p.section != section:
                section = p.section
                source = "Target architecture" if p.ref[0].isdigit() else "Resilience notes"
                self.stdout.write(f"\n== {source}: {section} ==")
            head = textwrap.wrap(p.point, width - len(indent)) or [""]
            self.stdout.write(f"{p.ref:<{ref_w}} {p.status:<{st_w}} {head[0]}")
            for line in head[1:]:
                self.stdout.write(indent + line)
            for label, text in (
                ("now", p.now),
                ("settings", ", ".join(f"{k}={v}" for k, v in p.settings.items())),
                ("differs", p.differs),
            ):
                if text:
                    body = textwrap.wrap(f"{label}: {text}", width - len(indent) - 2, subsequent_indent="  ")
                    for line in body:
                        self.stdout.write(indent + "  " + line)
        self.stdout.write("\nSummary: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
