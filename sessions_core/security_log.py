"""Structured security events on the ``authsite.security`` logger (JSON lines).

Events carry user and session ids, never a token, ticket or secret: any field
whose name looks like one is refused rather than logged.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

from sessions_core.signals import security_event

logger = logging.getLogger("authsite.security")

_FORBIDDEN = ("token", "secret", "ticket", "password", "cookie")


def event(name: str, **fields: Any) -> None:
    """Log security event ``name`` with ``fields`` (ids, reasons, IPs; never secrets)."""
    for key in fields:
        if any(bad in key.lower() for bad in _FORBIDDEN):
            raise ValueError(f"security_log field {key!r} looks like a secret; log an id instead")
    logger.info(name, extra={"event": name, "fields": fields})
    security_event.send(sender=None, name=name, fields=fields)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, event and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(time.time(), 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", record.getMessage()),
        }
        out.update(getattr(record, "fields", {}))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, separators=(",", ":"))
