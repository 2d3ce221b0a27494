"""A TCP proxy in front of one or more HTTP servers that misbehaves on purpose.

It forwards bytes both ways (WebSockets included) and reads only the request line
of each HTTP request, so a policy can decide per request to:

- ``pass`` it on;
- ``drop_request``: close the client's connection without forwarding (the server
  never sees the request);
- ``drop_answer``: forward the request, let the server process it, and swallow
  the answer (the client's connection is closed when the first answer bytes come);
- ``delay``: hold the request for ``seconds`` before forwarding;
- ``reset``: abort both connections at once (a TCP reset).

Backends are tried round robin; one that refuses the connection (a worker being
restarted) is skipped. :class:`ProxyThread` runs the proxy on a loop of its own
for synchronous callers (Playwright tests).
"""
from __future__ import annotations

import asyncio
import re
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

REQUEST_LINE = re.compile(rb"^(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) (\S+) HTTP/1\.[01]\r\n")


@dataclass(frozen=True)
class Action:
    kind: str = "pass"  # pass | drop_request | drop_answer | delay | reset
    seconds: float = 0.0


PASS = Action()
Policy = Callable[[str, str], Action]


def pass_all(method: str, path: str) -> Action:
    return PASS


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a dropped mobile connection looks."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class ChaosProxy:
    """Listen on 127.0.0.1:``port`` (0: a free one) and forward to ``backends`` (ports)."""

    def __init__(self, backends: list[int], policy: Policy = pass_all, port: int = 0) -> None:
        self.backends = backends
        self.policy = policy
        self.port = port
        self.counts: Counter[str] = Counter()
        self._next = 0
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    async def start(self) -> "ChaosProxy":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._conns):
            w.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        last: OSError | None = None
        for _ in range(len(self.backends)):
            port = self.backends[self._next % len(self.backends)]
            self._next += 1
            try:
                return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
            except (OSError, asyncio.TimeoutError) as e:
                last = e if isinstance(e, OSError) else OSError(str(e))
        raise last or OSError("no backend")

    async def _handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        self._conns.add(cwriter)
        try:
            sreader, swriter = await self._connect()
        except OSError:
            self.counts["no_backend"] += 1
            _abort(cwriter)
            self._conns.discard(cwriter)
            return
        self._conns.add(swriter)
        swallow = asyncio.Event()

        async def upstream() -> None:
            while data := await creader.read(65536):
                m = REQUEST_LINE.match(data)
                if m:
                    action = self.policy(m.group(1).decode(), m.group(2).decode().split("?", 1)[0])
                    self.counts[action.kind] += 1
                    if action.kind == "drop_request":
                        return _abort(cwriter)
                    if action.kind == "reset":
                        _abort(swriter)
                        return _abort(cwriter)
                    if action.kind == "delay":
                        await asyncio.sleep(action.seconds)
                    if action.kind == "drop_answer":
                        swallow.set()
                swriter.write(data)
                await swriter.drain()
            swriter.write_eof() if swriter.can_write_eof() else None

        async def downstream() -> None:
            while data := await sreader.read(65536):
                if swallow.is_set():
                    # The server answered: the answer is lost on its way back.
                    _abort(swriter)
                    return _abort(cwriter)
                cwriter.write(data)
                await cwriter.drain()
            cwriter.close()

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            # One side ended: give the other a moment to flush (half-closed HTTP), then stop.
            await asyncio.wait(tasks, timeout=30)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass  # the proxy is closing, or a side went away
        finally:
            for t in tasks:
                t.cancel()
            for w in (cwriter, swriter):
                w.transport.abort() if not w.is_closing() else None
                self._conns.discard(w)


class ProxyThread:
    """A :class:`ChaosProxy` on an event loop in a daemon thread (for synchronous code)."""

    def __init__(self, backends: list[int], policy: Policy = pass_all) -> None:
        self.loop = asyncio.new_event_loop()
        self.proxy = ChaosProxy(backends, policy)
        self._thread = threading.Thread(target=self.loop.run_forever, name="chaos-proxy", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self.loop).result(10)

    @property
    def port(self) -> int:
        return self.proxy.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_policy(self, policy: Policy) -> None:
        self.proxy.policy = policy

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def lose_next_answer(method: str, path: str, then: Policy = pass_all) -> tuple[Policy, list[str]]:
    """A policy that swallows the answer of the next ``method path`` once, then follows
    ``then``; returns it and a list that gets one entry when it has done so."""
    done: list[str] = []

    def policy(m: str, p: str) -> Action:
        if not done and m == method and p == path:
            done.append(p)
            return Action("drop_answer")
        return then(m, p) if done else PASS

    return policy, done


def offline(method: str, path: str) -> Action:
    """The network is gone: nothing reaches the server."""
    return Action("drop_request")
