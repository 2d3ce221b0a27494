"""Helpers for operations tests: signed-in HTTP clients, staff clients, log capture."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.test import Client

from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from sessions_core.models import User
from sessions_core.services import IssuedTokens, session_create
from sessions_core.signals import session_revoked


def signed_in(user: User, *, ua: str = "pytest") -> tuple[Client, IssuedTokens]:
    """A client holding a fresh session's cookies (CSRF checks off: the API's CSRF is tested elsewhere)."""
    issued = session_create(user=user, ip="127.0.0.1", user_agent=ua)
    client = Client()
    client.cookies[SESSION_COOKIE] = issued.session_token
    client.cookies[REFRESH_COOKIE] = issued.refresh_token
    return client, issued


def validate_status(client: Client) -> tuple[int, str]:
    """(HTTP status, error code or "") of POST /auth/validate without the refresh fallback."""
    refresh = client.cookies.pop(REFRESH_COOKIE, None)
    try:
        resp = client.post("/auth/validate")
    finally:
        if refresh is not None:
            client.cookies[REFRESH_COOKIE] = refresh
    return resp.status_code, resp.json().get("error", "") if resp.status_code != 200 else ""


@contextmanager
def revoked_signals() -> Iterator[list[dict[str, Any]]]:
    """Collect ``session_revoked`` sends (what the realtime app closes sockets on)."""
    seen: list[dict[str, Any]] = []

    def on(sender: Any, **kw: Any) -> None:
        seen.append({k: kw[k] for k in ("uid", "sid", "reason")})

    session_revoked.connect(on, weak=False, dispatch_uid="tests.ops.revoked")
    try:
        yield seen
    finally:
        session_revoked.disconnect(dispatch_uid="tests.ops.revoked")


class _ListHandler(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def security_log_lines() -> Iterator[list[str]]:
    """The ``authsite.security`` logger's output, formatted by its configured JSON formatter."""
    from sessions_core.security_log import JsonFormatter

    handler = _ListHandler(JsonFormatter())
    logger = logging.getLogger("authsite.security")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


def events(lines: list[str]) -> list[dict[str, Any]]:
    """Parse captured security-log lines (each must be one JSON object)."""
    return [json.loads(line) for line in lines]
