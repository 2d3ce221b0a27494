"""Graceful drain on deploy: a worker told to stop hands its hub clients to the others.

On SIGTERM a daphne worker
1. stops listening, so the load balancer's next connection attempt (a health
   check on ``/readyz``, a reconnecting client) is refused at once and goes to
   another worker (HAProxy: ``option redispatch`` with ``retries``);
2. closes every hub connection it holds with a SignalR close that allows
   reconnect (``{"type": 7, "error": ..., "allowReconnect": true}``), spread over
   ``HUB_DRAIN_SPREAD`` so the survivors see a ramp, not a herd;
3. waits (at most ``HUB_DRAIN_TIMEOUT``) until those connections and any HTTP
   request in flight have ended, then stops the reactor as daphne would have.
A second SIGTERM (or SIGINT) stops at once.

Why a signal handler: daphne 4.2 implements no ASGI lifespan, and its own
shutdown trigger cancels every application at once, so a connection never gets
to say goodbye. The handler replaces Twisted's after the reactor has installed
its own (an "after startup" trigger). Under another server :func:`install` does
nothing.

:class:`DrainMiddleware` (outermost ASGI layer) counts requests in flight and,
while draining, answers ``/readyz`` with 503 and refuses new hub upgrades
(503 where the server offers the WebSocket denial-response extension).
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

from sessions_core.conf import auth_settings

from realtime import fanout

log = logging.getLogger(__name__)

CLOSE_ERROR = "Server is restarting."
DENIAL_EXTENSION = "websocket.http.response"


class _State:
    draining = False
    in_flight = 0
    task: "asyncio.Task[None] | None" = None


STATE = _State()


class DrainMiddleware:
    """Counts ASGI calls in flight; while draining, fails ``/readyz`` and refuses upgrades."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await self.inner(scope, receive, send)  # type: ignore[no-any-return]
        if STATE.draining:
            if scope["type"] == "http" and scope.get("path") == "/readyz":
                return await _unavailable(send)
            if scope["type"] == "websocket":
                return await _refuse_upgrade(scope, receive, send)
        STATE.in_flight += 1
        try:
            await self.inner(scope, receive, send)
        finally:
            STATE.in_flight -= 1


async def _unavailable(send: Any) -> None:
    body = b'{"status": "draining"}'
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/json"), (b"retry-after", b"1"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


async def _refuse_upgrade(scope: dict[str, Any], receive: Any, send: Any) -> None:
    message = await receive()
    if message.get("type") != "websocket.connect":
        return
    if DENIAL_EXTENSION in (scope.get("extensions") or {}):
        await send({"type": "websocket.http.response.start", "status": 503, "headers": [(b"retry-after", b"1")]})
        await send({"type": "websocket.http.response.body", "body": b""})
    else:
        # Plain ASGI can only close before accept (HTTP 403 in daphne). A client
        # reaches a draining worker only on a connection opened before it stopped
        # listening, so behind the balancer this is rare.
        await send({"type": "websocket.close", "code": 1013})


async def drain() -> None:
    """Close every local hub connection (allowing reconnect) and wait for requests in flight."""
    timeout = auth_settings.HUB_DRAIN_TIMEOUT.total_seconds()
    spread = min(auth_settings.HUB_DRAIN_SPREAD.total_seconds(), timeout / 2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + timeout
    conns = _closable()
    log.warning("drain: closing %d hub connections over %.1fs", len(conns), spread)
    batches = max(1, min(len(conns), int(spread * 20)))  # a batch every 50 ms at most
    for i in range(batches):
        await _close(conns[i::batches])
        if i + 1 < batches:
            await asyncio.sleep(spread / batches)
    # Upgrades that were in flight when the listener closed finish their handshake
    # meanwhile: they are closed as they arrive.
    while (STATE.in_flight or fanout.local_connections()) and loop.time() < deadline:
        await _close(_closable())
        await asyncio.sleep(0.05)
    log.warning("drain: done in %.1fs; %d requests still in flight", loop.time() - started, STATE.in_flight)


def _closable() -> list[fanout.LocalConnection]:
    # Before its SignalR handshake a connection has no way to hear "reconnect"
    # (and before accept a close reads as a refusal): it is closed once handshaken.
    return [c for c in fanout.local_connections() if getattr(c, "handshaken", True) and not getattr(c, "closed", False)]


async def _close(conns: list[fanout.LocalConnection]) -> None:
    results = await asyncio.gather(*(c.close(CLOSE_ERROR, allow_reconnect=True) for c in conns), return_exceptions=True)
    for failed in (r for r in results if isinstance(r, BaseException)):
        log.warning("drain: a connection failed to close cleanly: %r", failed)


def install() -> None:
    """Take over SIGTERM once daphne's reactor runs (no-op under any other server)."""
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or "daphne.server" not in sys.modules:
        return
    reactor.callWhenRunning(_take_signals, reactor)  # type: ignore[attr-defined]


def _take_signals(reactor: Any) -> None:
    previous = signal.getsignal(signal.SIGTERM)

    def on_signal(signum: int, frame: Any) -> None:
        reactor.callFromThread(_begin, reactor, signum, previous)

    signal.signal(signal.SIGTERM, on_signal)


def _begin(reactor: Any, signum: int, previous: Any) -> None:
    """Runs on the reactor's thread: start draining, or stop now on a second signal."""
    if STATE.draining:
        log.info("drain: second signal, stopping now")
        reactor.stop()
        return
    STATE.draining = True
    log.warning("drain: SIGTERM received; no longer listening")
    _stop_listening(reactor)

    async def run() -> None:
        try:
            await drain()
        finally:
            reactor.stop()

    STATE.task = asyncio.ensure_future(run())


def _stop_listening(reactor: Any) -> None:
    from twisted.internet import tcp

    for reader in list(reactor.getReaders()):
        if isinstance(reader, tcp.Port):  # (unix.Port is a subclass)
            reader.stopListening()
