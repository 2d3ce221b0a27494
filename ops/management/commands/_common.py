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


def user_label(user: User) -> str:
    """How a user is shown to operators: the display name players see, then the stable account name."""
    name = user.display_name()
    return name if name == user.username else f"{name} ({user.username})"


def user_by_name(ref: str) -> User:
    """The user ``ref`` names: account name, Discord id, user id or display name (in that order).

    A display name is not unique; when several users share it, ``CommandError``
    lists them so the operator can pick one by an unambiguous form. Raises
    ``CommandError`` when nothing matches.
    """
    ref = ref.strip()
    if not ref:
        raise CommandError("Name a user: account name, Discord id, user id or display name.")
    found = User.objects.filter(username=ref).first()
    if found is None and ref.isdigit():
        found = User.objects.filter(discord_id=ref).first()
        # Discord ids are 17-20 digits; a number that long is no primary key (and past 2**63 no column holds it).
        if found is None and len(ref) <= 15:
            found = User.objects.filter(pk=int(ref)).first()
    if found is not None:
        return found
    named = list(User.objects.filter(discord_username__iexact=ref).order_by("pk")[:6])
    if len(named) == 1:
        return named[0]
    if named:
        which = ", ".join(f"{u.username} (id {u.pk})" for u in named[:5])
        raise CommandError(f"Several users are called {ref!r}: {which}. Name one by account name or id.")
    raise CommandError(f"No user {ref!r} (tried account name, Discord id, user id and display name).")
