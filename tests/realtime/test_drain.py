"""The drain's parts in-process (the whole of it, on real workers behind HAProxy: test_load_balancer)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from realtime import drain, fanout
from realtime.auth import HubPrincipal

pytestmark = [pytest.mark.asyncio]


class FakeConnection:
    def __init__(self, sid: str, handshaken: bool = True) -> None:
        self.principal = HubPrincipal(uid=1, sid=sid, jti="j", tv=1, exp=0, name="A")
        self.handshaken = handshaken
        self.closed = False
        self.closes: list[tuple[str | None, bool]] = []

    async def hub_revoked(self, event: dict[str, Any]) -> None:
        await self.close(event["reason"])

    async def close(self, error: str | None, *, allow_reconnect: bool = False) -> None:
        self.closes.append((error, allow_reconnect))
        self.closed = True
        fanout.detach(self)


async def call(app: Any, scope: dict[str, Any], incoming: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})


async def test_a_draining_worker_fails_readyz_and_refuses_new_upgrades(monkeypatch: Any) -> None:
    app = drain.DrainMiddleware(inner)
    assert (await call(app, {"type": "http", "path": "/readyz"}, []))[0]["status"] == 200
    monkeypatch.setattr(drain.STATE, "draining", True)
    answer = await call(app, {"type": "http", "path": "/readyz"}, [])
    assert answer[0]["status"] == 503 and (b"retry-after", b"1") in answer[0]["headers"]
    assert (await call(app, {"type": "http", "path": "/auth/validate"}, []))[0]["status"] == 200
    upgrade = [{"type": "websocket.connect"}]
    assert (await call(app, {"type": "websocket", "path": "/hub"}, list(upgrade)))[0]["type"] == "websocket.close"
    # Where the server offers the denial-response extension, the refusal is a 503.
    with_ext = {"type": "websocket", "path": "/hub", "extensions": {"websocket.http.response": {}}}
    assert (await call(app, with_ext, list(upgrade)))[0] == {
        "type": "websocket.http.response.start", "status": 503, "headers": [(b"retry-after", b"1")]}


@pytest.mark.django_db(transaction=True)
async def test_drain_closes_every_handshaken_connection_allowing_reconnect(settings: Any) -> None:
    settings.AUTHSITE = {**settings.AUTHSITE, "HUB_DRAIN_SPREAD": timedelta(seconds=0.2),
                         "HUB_DRAIN_TIMEOUT": timedelta(seconds=0.6)}
    ready = [FakeConnection(f"s{n}") for n in range(5)]
    waiting = FakeConnection("s-new", handshaken=False)
    for conn in [*ready, waiting]:
        await fanout.attach(conn)
    await drain.drain()
    assert all(c.closes == [(drain.CLOSE_ERROR, True)] for c in ready)
    # Before its handshake a connection cannot hear "reconnect": left to its handshake timeout.
    assert waiting.closes == []
    fanout.detach(waiting)
    assert fanout.local_connections() == []
