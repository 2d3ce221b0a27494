"""``python -m ops.serve``: daphne's own command line, with an access log that never
records a credential carried in a query string.

Daphne's access log writes each request's full URI. Some of ours carry secrets:
the OAuth callback's single-use ``code`` and ``state``, the hub's
``access_token`` (browsers cannot set headers on a WebSocket, SSE or long-poll
request) and its connection token (``id``). Their values are replaced by
``[redacted]``; everything else (arguments, options) is daphne's unchanged.
"""
from __future__ import annotations

from typing import Any

from daphne import cli
from daphne.access import AccessLogGenerator

REDACTED = "[redacted]"
SENSITIVE_PARAMETERS = frozenset({"code", "state", "access_token", "id", "token", "refresh_token", "id_token"})


def redact_path(path: str) -> str:
    """``path`` with the values of sensitive query parameters replaced; never raises."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    out = []
    for pair in query.split("&"):
        name, eq, _value = pair.partition("=")
        out.append(f"{name}={REDACTED}" if eq and name.lower() in SENSITIVE_PARAMETERS else pair)
    return f"{base}?{'&'.join(out)}"


class RedactingAccessLog(AccessLogGenerator):  # type: ignore[misc]
    """Daphne's NCSA-style access log with :func:`redact_path` applied to every path."""

    def __call__(self, protocol: Any, action: Any, details: dict[str, Any]) -> None:
        if isinstance(details.get("path"), str):
            details = {**details, "path": redact_path(details["path"])}
        super().__call__(protocol, action, details)


def main() -> None:
    # The CLI builds its logger from this module-level name (daphne.cli imports it).
    cli.AccessLogGenerator = RedactingAccessLog
    cli.CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
