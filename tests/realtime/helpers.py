"""Helpers for hub tests: tokens, a SignalR-speaking WebsocketCommunicator, log capture."""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from channels.testing import WebsocketCommunicator

from realtime import protocol
from realtime.routing import websocket_application
from sessions_core.tokens.signing_keys import get_keyring
from sessions_core.tokens import make_access_token

RS = protocol.RS


def access_token(uid: int, sid: str, *, tv: int = 1, exp_in: int = 3600, name: str = "Alice") -> str:
    """A correctly signed access token expiring in ``exp_in`` seconds."""
    from sessions_core.conf import auth_settings

    ttl = int(auth_settings.ACCESS_TOKEN_TTL.total_seconds())
    token, _ = make_access_token(get_keyring(), uid=uid, sid=sid, tv=tv, name=name, iat=int(time.time()) + exp_in - ttl)
    return token


# Every Hub a test opened; the conftest ends them all after the test, as a
# server would (a consumer runs until the server reports the disconnect).
OPENED: list["Hub"] = []


class Hub:
    """A WebsocketCommunicator that speaks the JSON hub protocol."""

    def __init__(self, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.comm = WebsocketCommunicator(websocket_application(), path, headers=headers or [])
        self.pending: list[dict[str, Any]] = []
        OPENED.append(self)

    async def connect(self) -> tuple[bool, int | None]:
        return await self.comm.connect(timeout=5)

    async def handshake(self) -> dict[str, Any]:
        await self.comm.send_to(text_data=json.dumps({"protocol": "json", "version": 1}) + RS)
        return (await self.next_raw())

    async def send(self, msg: dict[str, Any]) -> None:
        await self.comm.send_to(text_data=json.dumps(msg) + RS)

    async def invoke(self, target: str, *args: Any, invocation_id: str = "1") -> dict[str, Any]:
        await self.send({"type": 1, "invocationId": invocation_id, "target": target, "arguments": list(args)})
        return await self.next(lambda m: m.get("type") == 3 and m.get("invocationId") == invocation_id)

    async def next_raw(self, timeout: float = 3) -> dict[str, Any]:
        if self.pending:
            return self.pending.pop(0)
        out = await self.comm.receive_output(timeout)
        if out["type"] == "websocket.close":
            return {"__closed__": out.get("code")}
        records = [r for r in out["text"].split(RS) if r]
        assert out["text"].endswith(RS), out["text"]
        msgs = [json.loads(r) for r in records]
        self.pending.extend(msgs[1:])
        return msgs[0]

    async def next(self, match: Any = None, timeout: float = 3) -> dict[str, Any]:
        """The next message matching ``match`` (pings and others skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.next_raw(max(0.01, deadline - time.monotonic()))
            if "__closed__" in msg or match is None or match(msg):
                return msg

    async def call(self, target: str, timeout: float = 3) -> dict[str, Any]:
        return await self.next(lambda m: m.get("type") == 1 and m.get("target") == target, timeout)

    async def closed(self, timeout: float = 3) -> int | None:
        msg = await self.next(lambda m: False, timeout)
        return msg["__closed__"]

    async def disconnect(self) -> None:
        await self.comm.disconnect()


async def open_hub(token: str, **kwargs: Any) -> Hub:
    hub = Hub(f"/hub?access_token={token}", **kwargs)
    ok, code = await hub.connect()
    assert ok, code
    first = await hub.handshake()
    assert first == {}, first
    return hub


@contextmanager
def security_events() -> Iterator[list[logging.LogRecord]]:
    """Records of the ``authsite.security`` logger (it does not propagate to pytest's caplog)."""
    records: list[logging.LogRecord] = []

    class _H(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = _H(level=logging.INFO)
    logger = logging.getLogger("authsite.security")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
