"""Helpers shared by the management commands: aligned tables, JSON, looking users up."""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.management.base import CommandError, OutputWrapper

from sessions_core.models import User


def fmt_time(value: datetime | None) -> str:
    """A compact UTC timestamp for tables (``-`` for none)."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def write_json(out: OutputWrapper, data: Any) -> None:
    """One JSON document (datetimes as ISO 8601) and a newline."""
    out.write(json.dumps(data, indent=2, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))


def write_table(out: OutputWrapper, headers: Sequence[str], rows: Sequence[Sequence[Any]], *, max_width: int = 48) -> None:
    """Columns padded to their widest cell (cells longer than ``max_width`` are cut with ``...``)."""

    def cell(value: Any) -> str:
        text = "-" if value is None or value == "" else str(value)
        return text if len(text) <= max_width else text[: max_width - 3] + "..."

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    out.write("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths)).rstrip())
    for r in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


def user_by_name(username: str) -> User:
    """The user called ``username``; raises ``CommandError`` if there is none."""
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist as e:
        raise CommandError(f"No user named {username!r}.") from e
