"""Test-only ASGI entry: the site, plus a log of what reached the server.

``daphne tests.browser.asgi_counting:application`` serves ``authsite.asgi.application``
unchanged and appends one line per event to the file named by the
``AUTHSITE_TEST_REQUEST_LOG`` environment variable (required):

    <pid>:<n> <ms> HTTP <METHOD> <path> <status> <referer path or ->   when an HTTP response starts
    <pid>:<n> <ms> WS-OPEN <path>                  when a WebSocket is accepted
    <pid>:<n> <ms> WS-REFUSED <path>               when an upgrade is refused
    <pid>:<n> <ms> WS-CLOSE <path> <who> <code>    when an accepted WebSocket ends

``<pid>:<n>`` identifies one connection (``n`` counts per process, so a
restarted server gives new ids); ``<ms>`` is the server's wall clock in
milliseconds; ``<who>`` is ``server`` (the app closed it) or
``client`` (the browser went away or the server stopped). Lines are written
with O_APPEND in one ``write`` each, so concurrent writers never interleave.
Never used by the product: only the browser tests start daphne on it.
"""
from __future__ import annotations

import itertools
import os
import time
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from authsite.asgi import application as site

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

LOG_PATH = os.environ["AUTHSITE_TEST_REQUEST_LOG"]
_ids = itertools.count(1)
_fd = os.open(LOG_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


def _log(line: str) -> None:
    cid, rest = line.split(" ", 1)
    os.write(_fd, f"{cid} {int(time.time() * 1000)} {rest}\n".encode())


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    """The site's ASGI application with every HTTP response and WebSocket lifetime logged."""
    kind = scope["type"]
    if kind not in ("http", "websocket"):
        await site(scope, receive, send)
        return
    cid = f"{os.getpid()}:{next(_ids)}"
    path = scope.get("path", "")

    if kind == "http":
        # Which page asked (the site's Referrer-Policy is same-origin): the path only, never a query.
        referer = dict(scope.get("headers", [])).get(b"referer", b"").decode("latin-1")
        source = urlsplit(referer).path or "-" if referer else "-"

        async def send_http(message: Message) -> None:
            if message["type"] == "http.response.start":
                _log(f"{cid} HTTP {scope.get('method', '')} {path} {message['status']} {source}")
            await send(message)

        await site(scope, receive, send_http)
        return

    state = {"open": False, "ended": False}

    def end(who: str, code: Any) -> None:
        if state["open"] and not state["ended"]:
            state["ended"] = True
            _log(f"{cid} WS-CLOSE {path} {who} {code}")

    async def send_ws(message: Message) -> None:
        if message["type"] == "websocket.accept":
            state["open"] = True
            _log(f"{cid} WS-OPEN {path}")
        elif message["type"] == "websocket.close":
            if state["open"]:
                end("server", message.get("code", 1000))
            else:
                _log(f"{cid} WS-REFUSED {path}")
        elif message["type"] == "websocket.http.response.start":
            _log(f"{cid} WS-REFUSED {path}")
        await send(message)

    async def receive_ws() -> Message:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            end("client", message.get("code", 1005))
        return message

    try:
        await site(scope, receive_ws, send_ws)
    finally:
        # Server shutdown cancels the consumer: the socket is gone either way.
        end("client", "gone")
