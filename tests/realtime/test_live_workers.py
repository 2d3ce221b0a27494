"""Two real daphne workers on one Redis: revocation and refusals as a client on the wire sees them."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.realtime.live import Browserless, Daphne

pytestmark = [pytest.mark.django_db(transaction=True)]
RS = "\x1e"


@pytest.fixture
def workers(issued: Any) -> Iterator[tuple[Daphne, Daphne]]:
    a, b = Daphne(), Daphne()
    try:
        yield a.start(), b.start()
    finally:
        a.close()
        b.close()


def handshake(ws: ClientConnection) -> None:
    ws.send(json.dumps({"protocol": "json", "version": 1}) + RS)
    assert ws.recv(timeout=5) == "{}" + RS


def messages_until_closed(ws: ClientConnection, timeout: float) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            frame = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            seen += [json.loads(r) for r in str(frame).split(RS) if r]
    except ConnectionClosed:
        return seen


def test_logout_on_worker_a_closes_the_socket_on_worker_b_within_a_second(issued: Any, workers: Any) -> None:
    a, b = workers
    browser = Browserless(a.url, issued.session_token, issued.refresh_token)
    bearer = {"Authorization": f"Bearer {issued.access_token}"}
    with connect(f"ws://127.0.0.1:{b.port}/hub", additional_headers=bearer) as ws:
        handshake(ws)
        started = time.monotonic()
        resp = browser.post("/auth/logout")
        assert resp.status_code == 200, resp.text
        seen = messages_until_closed(ws, timeout=2)
        elapsed = time.monotonic() - started
    assert {"type": 1, "target": "sessionRevoked", "arguments": [{"reason": "logout"}]} in seen, seen
    closing = [m for m in seen if m.get("type") == 7]
    assert closing and closing[0]["allowReconnect"] is False, seen
    assert elapsed < 1.0, f"closed after {elapsed:.3f}s\nA:\n{a.tail()}\nB:\n{b.tail()}"
    # The session is gone for every worker: a new upgrade with the same token is refused.
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://127.0.0.1:{a.port}/hub?access_token={issued.access_token}")
    assert refused.value.response.status_code == 403


def test_refused_upgrade_is_http_403(issued: Any, workers: Any) -> None:
    a, _ = workers
    for url in (
        f"ws://127.0.0.1:{a.port}/hub",
        f"ws://127.0.0.1:{a.port}/hub?access_token={issued.access_token[:-3]}",
    ):
        with pytest.raises(InvalidStatus) as refused:
            connect(url)
        assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as foreign:
        connect(f"ws://127.0.0.1:{a.port}/hub?access_token={issued.access_token}", origin="https://evil.example")
    assert foreign.value.response.status_code == 403
    # The same token from an allowed origin gets in.
    with connect(f"ws://127.0.0.1:{a.port}/hub?access_token={issued.access_token}", origin="http://localhost") as ok:
        handshake(ok)
