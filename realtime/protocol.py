"""The SignalR JSON hub protocol: framing, handshake and message builders.

Spec: aspnetcore ``src/SignalR/docs/specs/HubProtocol.md`` ("JSON Encoding") and
``TransportProtocols.md``. Every message is a JSON object terminated by the
record separator 0x1E; the handshake request ``{"protocol":"json","version":1}``
is answered by ``{}`` (or ``{"error": ...}``) before any other message.
"""
from __future__ import annotations

import json
from typing import Any

RS = "\x1e"

INVOCATION = 1
STREAM_ITEM = 2
COMPLETION = 3
STREAM_INVOCATION = 4
CANCEL_INVOCATION = 5
PING = 6
CLOSE = 7

SUPPORTED_PROTOCOL = "json"
SUPPORTED_VERSION = 1


class FrameBuffer:
    """Collects text until record separators; a message may span WebSocket frames.

    ``limit`` bounds one unterminated message (the client's budget, in characters).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._pending = ""

    def feed(self, text: str) -> list[str]:
        """Append ``text``; return the complete records. Raises ``ValueError`` past the limit."""
        data = self._pending + text
        *records, self._pending = data.split(RS)
        if len(self._pending) > self.limit or any(len(r) > self.limit for r in records):
            raise ValueError("message too large")
        return records


def encode(message: dict[str, Any]) -> str:
    """One framed message (compact JSON + RS)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str) + RS


def parse_record(record: str, *, handshake: bool = False) -> dict[str, Any]:
    """Decode one record into a JSON object (with an integer ``type`` unless it is the handshake).

    Raises ``ValueError`` for anything else (deeply nested JSON included: the
    decoder's ``RecursionError`` would otherwise escape as a crash).
    """
    try:
        msg = json.loads(record)
    except RecursionError as e:
        raise ValueError("a hub message nests too deeply") from e
    if not isinstance(msg, dict):
        raise ValueError("a hub message is a JSON object")
    if not handshake and (not isinstance(msg.get("type"), int) or isinstance(msg.get("type"), bool)):
        raise ValueError("a hub message needs an integer type")
    return msg


def check_handshake(msg: dict[str, Any]) -> str | None:
    """``None`` if the handshake request is acceptable, else the error to answer with."""
    protocol, version = msg.get("protocol"), msg.get("version")
    if protocol != SUPPORTED_PROTOCOL:
        return f"Requested protocol '{protocol}' is not available."
    if version != SUPPORTED_VERSION:
        return f"The server does not support version {version} of the '{protocol}' protocol."
    return None


def handshake_response(error: str | None = None) -> str:
    return encode({"error": error} if error else {})


def invocation(target: str, *arguments: Any) -> str:
    """A server-to-client call with no invocationId (no answer expected)."""
    return encode({"type": INVOCATION, "target": target, "arguments": list(arguments)})


def completion(invocation_id: str, *, result: Any = None, error: str | None = None) -> str:
    """The answer to a client invocation: ``error`` when it failed, else ``result`` (null for void)."""
    if error is not None:
        return encode({"type": COMPLETION, "invocationId": invocation_id, "error": error})
    return encode({"type": COMPLETION, "invocationId": invocation_id, "result": result})


def ping() -> str:
    return encode({"type": PING})


def close(error: str | None = None, *, allow_reconnect: bool = False) -> str:
    """A close message; ``allowReconnect`` lets a client with automatic reconnect try again."""
    msg: dict[str, Any] = {"type": CLOSE}
    if error:
        msg["error"] = error
    # Optional in the spec (absent means false); always sent so clients need no default.
    msg["allowReconnect"] = allow_reconnect
    return encode(msg)


def read_invocation(msg: dict[str, Any]) -> tuple[str | None, str, list[Any]]:
    """(invocationId or None, target, arguments) of an invocation; raises ``ValueError`` if malformed."""
    target = msg.get("target")
    invocation_id = msg.get("invocationId")
    arguments = msg.get("arguments", [])
    if not isinstance(target, str) or not target:
        raise ValueError("an invocation needs a target")
    if invocation_id is not None and (not isinstance(invocation_id, str) or not invocation_id):
        raise ValueError("invocationId must be a non-empty string")
    if not isinstance(arguments, list):
        raise ValueError("arguments must be an array")
    return invocation_id, target, arguments
