"""Many SignalR JSON-protocol clients (Python ``websockets``) in one background event loop.

Each client connects with its access token as a Bearer header (skipping
negotiate, as ``skipNegotiation`` does), handshakes, answers the server's pings,
and behaves like the official client with automatic reconnect: a close that
allows reconnect, or a dropped socket, starts reconnect attempts after 0, 2, 10
and 30 s; a close that does not allow it (or ``sessionRevoked``) signs it out.
Used by the multi-worker tests and the benchmark.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

RS = "\x1e"
HANDSHAKE = json.dumps({"protocol": "json", "version": 1}) + RS
PING = json.dumps({"type": 6}) + RS
#: The official client's default reconnect delays (DefaultReconnectPolicy), seconds.
RETRY_DELAYS = (0.0, 2.0, 10.0, 30.0)


@dataclass
class Client:
    token: str
    uid: int
    sid: str
    url: str | None = None  # this client's endpoint, if not the swarm's
    connected: bool = False
    handshakes: int = 0
    drained: int = 0  # closes with allowReconnect: true
    signed_out: str | None = None  # why, if the server ended the session for this client
    closed_at: float | None = None  # time.time() of the close that signed it out
    refusals: Counter[int] = field(default_factory=Counter)  # HTTP status of refused upgrades
    failures: int = 0  # other failed attempts (refused TCP, timeouts)
    drops: int = 0  # open connections that ended without a SignalR close message
    dropped_at: float | None = None  # time.time() of the last drop
    longest_retry: int = 0  # most consecutive failed attempts before getting back in
    connected_at: float | None = None
    drop_reason: str = ""


class Swarm:
    """Clients for ``url`` (``ws://host:port/hub``), run in a thread; read their state from any thread."""

    def __init__(self, url: str, clients: list[Client], *, ramp: int = 20, open_timeout: float = 20) -> None:
        self.url = url
        self.clients = clients
        self.ramp = ramp  # first connections in flight at once (reconnects are not limited)
        self.open_timeout = open_timeout
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.tasks: list[asyncio.Future[None]] = []
        self.stopping = False

    def start(self) -> "Swarm":
        self.thread.start()

        async def launch() -> None:
            gate = asyncio.Semaphore(self.ramp)
            self.tasks.extend(asyncio.ensure_future(self._run(c, gate)) for c in self.clients)

        asyncio.run_coroutine_threadsafe(launch(), self.loop).result()
        return self

    def connected(self) -> int:
        return sum(1 for c in self.clients if c.connected)

    def wait(self, predicate: Any, timeout: float, what: str) -> float:
        """Poll ``predicate()`` until true; returns the seconds it took."""
        started = time.monotonic()
        while not predicate():
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{what}: {self.summary()}")
            time.sleep(0.05)
        return time.monotonic() - started

    def summary(self) -> dict[str, Any]:
        refusals: Counter[int] = Counter()
        for c in self.clients:
            refusals.update(c.refusals)
        return {
            "clients": len(self.clients), "connected": self.connected(),
            "signed_out": sum(1 for c in self.clients if c.signed_out), "drained": sum(c.drained for c in self.clients),
            "refusals": dict(refusals), "failures": sum(c.failures for c in self.clients),
            "drops": sum(c.drops for c in self.clients),
            "longest_retry": max((c.longest_retry for c in self.clients), default=0),
        }

    def stop(self) -> None:
        self.stopping = True

        async def cancel() -> None:
            for t in self.tasks:
                t.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(cancel(), self.loop).result(timeout=120)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)

    async def _run(self, c: Client, gate: asyncio.Semaphore | None) -> None:
        from websockets.exceptions import InvalidStatus

        failed = 0
        while not self.stopping and c.signed_out is None:
            try:
                if gate is not None:
                    async with gate:
                        ws = await self._open(c)
                    gate = None
                else:
                    ws = await self._open(c)
            except InvalidStatus as e:
                c.refusals[e.response.status_code] += 1
                ws = None
            except (OSError, asyncio.TimeoutError, Exception) as e:  # noqa: BLE001 - any failed attempt is retried, as the official client does
                if isinstance(e, asyncio.CancelledError):
                    raise
                c.failures += 1
                ws = None
            if ws is None:
                failed += 1
                c.longest_retry = max(c.longest_retry, failed)
                await asyncio.sleep(RETRY_DELAYS[min(failed - 1, len(RETRY_DELAYS) - 1)])
                continue
            failed = 0
            await self._listen(c, ws)

    async def _open(self, c: Client) -> Any:
        from websockets.asyncio.client import connect

        ws = await connect(c.url or self.url, additional_headers={"Authorization": f"Bearer {c.token}"},
                           open_timeout=self.open_timeout, ping_interval=None, close_timeout=2, max_size=2**20)
        try:
            await ws.send(HANDSHAKE)
            reply = await asyncio.wait_for(ws.recv(), self.open_timeout)
        except BaseException:
            await ws.close()
            raise
        if reply != "{}" + RS:
            await ws.close()
            raise RuntimeError(f"handshake refused: {reply!r}")
        c.handshakes += 1
        c.connected, c.connected_at = True, time.time()
        return ws

    async def _listen(self, c: Client, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for frame in ws:
                for record in str(frame).split(RS):
                    if not record:
                        continue
                    msg = json.loads(record)
                    kind = msg.get("type")
                    if kind == 6:
                        try:
                            await ws.send(PING)  # keeps the server's client timeout away
                        except ConnectionClosed:
                            pass  # (the server is closing: what it sent before still gets read)
                    elif kind == 1 and msg.get("target") == "sessionRevoked":
                        c.signed_out, c.closed_at = f"sessionRevoked {msg.get('arguments')}", time.time()
                    elif kind == 7:
                        if msg.get("allowReconnect"):
                            c.drained += 1
                        elif c.signed_out is None:
                            c.signed_out, c.closed_at = f"close {msg.get('error')}", time.time()
                        await ws.close()
                        return
        except ConnectionClosed as e:
            c.drops += 1
            c.dropped_at = time.time()
            c.drop_reason = repr(e)
        finally:
            c.connected = False
            if self.stopping:
                ws.transport.abort()  # (stopping thousands: no close handshake each)
