"""Data of ``manage.py auth_report``: this deployment against the target architecture.

One :class:`Point` per point of the two source documents (the ten sections of the
target architecture, the layers, scenarios and parameters of the resilience
notes, and the notes' verification queries; rows in :mod:`ops.report_points`
and :mod:`ops.report_live`). Each status is computed from
what this deployment actually has: settings, whether Redis and the channel layer
answer, which URLs and hub routes are mounted, which checks are registered.
What only the browser code does (cross-tab locks, visibility, heartbeat timing) is
no fact a server can state about itself: those rows say ``in the browser`` and name
the module and the browser test that exercises it. Secrets are reported as
set/unset, never by value.

Statuses: ``implemented`` (in the code, no configuration involved), ``configured``
(in the code and switched on/set as the target says), ``not configured`` (in the
code, but this configuration leaves it off or unset), ``differs`` (done another way
on purpose, or a number that differs from the target's), ``unavailable`` (a
dependency does not answer now), ``missing`` (not present in this deployment),
``in the browser`` (carried by the served browser modules; see above).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.urls import Resolver404, resolve
from django.utils import timezone


IMPLEMENTED, CONFIGURED, NOT_CONFIGURED = "implemented", "configured", "not configured"
DIFFERS, UNAVAILABLE, MISSING = "differs", "unavailable", "missing"
BROWSER = "in the browser"
STATUSES = (IMPLEMENTED, CONFIGURED, NOT_CONFIGURED, DIFFERS, UNAVAILABLE, MISSING, BROWSER)


@dataclass(frozen=True)
class Point:
    """One point of a source document and where this deployment stands on it."""

    ref: str
    section: str
    point: str
    status: str
    now: str
    settings: dict[str, str] = field(default_factory=dict)
    differs: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def human(value: Any) -> str:
    """A setting value for people: durations in their natural unit."""
    if isinstance(value, timedelta):
        secs = value.total_seconds()
        for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
            if secs >= size and secs % size == 0:
                n = secs / size
                return f"{n:g} {unit}{'s' if unit == 'day' and n != 1 else ''}"
        return f"{secs:g} s"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def secret_state(value: Any) -> str:
    """``set`` or ``unset``: a secret's value is never reported."""
    return "set" if value else "unset"


class Probe:
    """Live facts about this deployment, each computed once on first use."""

    @cached_property
    def redis(self) -> tuple[bool, str]:
        """(answers, description of REDIS_URL without its password)."""
        from ops.checks import redis_problems
        from sessions_core.store.urls import parse

        return (not redis_problems(), parse(settings.REDIS_URL).describe())

    @cached_property
    def channel_layer(self) -> tuple[bool, str]:
        """(delivers a message to itself, backend name)."""
        from ops.checks import channel_layer_problems

        backend = str(getattr(settings, "CHANNEL_LAYERS", {}).get("default", {}).get("BACKEND", "none"))
        return (not channel_layer_problems(), backend.rsplit(".", 1)[-1])

    @cached_property
    def lifetime_problems(self) -> list[str]:
        from ops.checks import lifetime_problems

        return [m.msg for m in lifetime_problems()]

    @cached_property
    def signing_keys(self) -> dict[str, Any]:
        from sessions_core.models import SigningKey

        try:
            rows = list(SigningKey.objects.values_list("kid", "created_at", "retired_at"))
        except DatabaseError:
            return {"readable": False}
        active = [r for r in rows if r[2] is None]
        newest = max((r[1] for r in active), default=None)
        age = (timezone.now() - newest).days if newest else None
        return {"readable": True, "active": len(active), "retired": len(rows) - len(active), "newest_age_days": age}

    def url(self, path: str) -> bool:
        """True if ``path`` is routed to a view in this deployment."""
        try:
            resolve(path)
            return True
        except Resolver404:
            return False

    @cached_property
    def hub_routes(self) -> int:
        """How many WebSocket routes the ASGI app mounts (0: no realtime hub)."""
        from realtime.routing import websocket_application

        app: Any = websocket_application()
        for _ in range(10):  # unwrap middleware (each keeps the wrapped app as ``inner``)
            if hasattr(app, "routes"):
                return len(app.routes or [])
            app = getattr(app, "inner", None)
        return 0

    @cached_property
    def security_log_routed(self) -> bool:
        """True if ``authsite.security`` INFO events reach at least one handler."""
        logger = logging.getLogger("authsite.security")
        if not logger.isEnabledFor(logging.INFO):
            return False
        current: logging.Logger | None = logger
        while current is not None:
            if current.handlers:
                return True
            current = current.parent if current.propagate else None
        return False
