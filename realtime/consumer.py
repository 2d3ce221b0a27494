"""The hub consumer: one SignalR JSON-protocol connection over a WebSocket.

Reached only through :class:`realtime.middleware.HubAuthMiddleware`, which put a
validated :class:`~realtime.auth.HubPrincipal` in the scope. Per-connection
timers (one task): the handshake deadline, a ping every ``HUB_PING_INTERVAL``
(with the session re-checked and the presence lease renewed, a backstop for a
lost fan-out message), the client timeout, ``tokenExpiring`` ahead of the access
token's expiry and the close when it expires unrenewed (``allowReconnect: true``).
A revoked session's close (``allowReconnect: false``) arrives as ``hub.revoked``
from :mod:`realtime.fanout`.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from channels.consumer import AsyncConsumer
from channels.exceptions import StopConsumer
from channels.consumer import get_handler_name

from sessions_core import security_log

from sessions_core.conf import auth_settings
from sessions_core.errors import AuthError, SessionExpired, SessionRevoked, StoreUnavailable
from sessions_core.store.breaker import breaker
from sessions_core.store.client import REDIS_ERRORS

from realtime import fanout, presence, protocol
from realtime.auth import HubPrincipal, check_session
from realtime.signals import hub_connection_closed, hub_connection_opened
from realtime.groups import app_group, presence_group, session_group, user_group
from realtime.hub import HubMethods

log = logging.getLogger(__name__)


def _secs(name: str) -> float:
    return float(getattr(auth_settings, name).total_seconds())


class HubConsumer(HubMethods, AsyncConsumer):
    """SignalR hub endpoint (HubProtocol.md, TransportProtocols.md "WebSockets")."""

    principal: HubPrincipal

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Work that sends channel-layer messages on the way out runs after this
        # consumer's own channel receive is cancelled: channels-redis shares one
        # blocking pop per process, and a pop cancelled mid-flight loses the
        # message it carried (which may be for another connection).
        self.after_stop: list[Any] = []
        try:
            await super().__call__(scope, receive, send)
        except REDIS_ERRORS as e:
            # The channel layer's receive lost Redis (a restart, a failover): one line,
            # not a traceback, and a close the client reconnects after.
            self.redis_lost = True
            log.warning(
                "hub connection %s: Redis unavailable (%s); closed with reconnect allowed",
                getattr(self, "connection_id", "-"), e,
            )
            if hasattr(self, "closed"):
                await self.close("The server lost its session store; reconnect.", allow_reconnect=True)
            else:
                await send({"type": "websocket.close", "code": 1011})
        finally:
            for job in self.after_stop:
                await job()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch minus its per-message ``close_old_connections`` thread hop:
        the hub touches SQL only in :func:`sessions_core.db.db_call`, which does that itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        self.principal = self.scope["hub"]
        self.connection_id = self.scope["hub_connection_id"]
        self.buffer = protocol.FrameBuffer(int(auth_settings.HUB_MAX_MESSAGE_BYTES))
        self.handshaken = self.closed = self.warned = False
        self.joined: set[str] = set()
        self.opened = self.last_received = time.monotonic()
        self.wake = asyncio.Event()
        self.timer: asyncio.Task[None] | None = None
        # While the session store is degraded (Redis away) the socket is accepted on
        # the SQL check alone; groups and presence (fan-out) wait for Redis: each
        # tick tries to resume them (README, "Redis down, site up").
        self.store_epoch = breaker.epoch
        self.paused = False
        try:
            try:
                await self._join_store_groups()
            except (StoreUnavailable, *REDIS_ERRORS):
                if breaker.available():
                    raise
                self.paused = True
            await self.recheck()
        except (AuthError, *REDIS_ERRORS) as e:
            security_log.event(
                "hub.refused", reason=getattr(e, "code", "store_unavailable"), user_id=self.principal.uid,
                session_id=self.principal.sid,
            )
            fanout.detach(self)
            await self._leave_groups()
            await self.send({"type": "websocket.close", "code": 1008})
            raise StopConsumer() from e
        await self.send({"type": "websocket.accept"})
        self.counted = True
        hub_connection_opened.send(sender=HubConsumer)
        self.timer = asyncio.ensure_future(self._run_timers())

    async def _join_store_groups(self) -> None:
        """Join the session's and user's groups, register presence, join the session's
        application groups and the presence group. Raises ``StoreUnavailable`` or a Redis error."""
        await fanout.attach(self)  # Before the re-check: a later revoke reaches this socket.
        for group in (session_group(self.principal.sid), user_group(self.principal.uid)):
            await self._join(group)
        for name in await presence.register(self.principal, self.connection_id):
            await self._join(app_group(name))
        # Joined after registering, so a connection does not hear its own arrival.
        await self._join(presence_group())

    async def _resume_store(self) -> None:
        """After degraded mode: join the groups (a restarted Redis forgot them) and register again."""
        await self._join_store_groups()
        self.paused = False
        self.store_epoch = breaker.epoch
        await self.recheck()

    async def recheck(self) -> None:
        """Check the session again once its group is joined: a revoke between the
        middleware's check and the join would otherwise go unheard."""
        await check_session(self.principal)

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        text = message.get("text")
        if text is None:
            await self.close("Binary frames are not part of the JSON hub protocol.")
            return
        self.last_received = time.monotonic()
        try:
            records = self.buffer.feed(text)
        except ValueError:
            await self.close("The message exceeds the maximum size.")
            return
        for record in records:
            if self.closed:
                return
            try:
                msg = protocol.parse_record(record, handshake=not self.handshaken)
            except ValueError:
                await self.close("The message is not valid JSON hub protocol.")
                return
            if not self.handshaken:
                await self._handshake(msg)
            else:
                await self._dispatch(msg)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        self.closed = True
        await self._cleanup()
        raise StopConsumer()

    # --- protocol ------------------------------------------------------------------------

    async def _handshake(self, msg: dict[str, Any]) -> None:
        error = protocol.check_handshake(msg)
        await self._raw(protocol.handshake_response(error))
        if error:
            await self.close(None)
            return
        self.handshaken = True
        self.wake.set()

    async def _dispatch(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == protocol.INVOCATION:
            await self._invoke(msg)
        elif kind == protocol.STREAM_INVOCATION:
            if isinstance(msg.get("invocationId"), str):
                await self._raw(protocol.completion(msg["invocationId"], error="Streaming methods are not supported."))
        elif kind == protocol.CLOSE:
            # The client is leaving and may already have dropped the socket: answer
            # nothing (a send on a closed socket fails in the server), just close.
            self.closed = True
            await self.send({"type": "websocket.close", "code": 1000})
            await self._cleanup()
        # Ping, completions, stream items and cancels carry nothing for this hub;
        # unknown types are ignored for forward compatibility (HubProtocol.md).

    async def _invoke(self, msg: dict[str, Any]) -> None:
        try:
            invocation_id, target, arguments = protocol.read_invocation(msg)
        except ValueError as e:
            await self.close(f"Invalid invocation: {e}.")
            return
        result: Any = None
        error: str | None = None
        ended: AuthError | None = None
        try:
            result = await self.hub_method(target, len(arguments))(*arguments)
        except (SessionRevoked, SessionExpired) as e:
            error, ended = f"{e.code}: {e.detail}", e
        except AuthError as e:
            error = f"{e.code}: {e.detail}"
        if invocation_id is not None:
            await self._raw(protocol.completion(invocation_id, result=result, error=error))
        if ended is not None:
            await self.close(f"Session ended ({ended.code}).")

    # --- server-to-client calls (channel-layer events) ------------------------------------

    async def hub_revoked(self, event: dict[str, Any]) -> None:
        """The session was revoked somewhere: say why, then close for good."""
        if self.closed:
            return
        reason = str(event.get("reason", "revoked"))
        await self.call("sessionRevoked", {"reason": reason})
        await self.close(f"Session revoked ({reason}).", allow_reconnect=False)

    async def hub_sessions(self, event: dict[str, Any]) -> None:
        await self.call("sessionsChanged")

    async def hub_notify(self, event: dict[str, Any]) -> None:
        await self.call("notify", event.get("payload"))

    async def hub_presence(self, event: dict[str, Any]) -> None:
        await self.call(
            "presenceChanged", {"userId": event["user_id"], "name": event.get("name", ""), "online": event["online"]}
        )

    async def call(self, target: str, *arguments: Any) -> None:
        """Invoke ``target`` on the client (no answer expected); dropped before the handshake."""
        if self.handshaken and not self.closed:
            await self._raw(protocol.invocation(target, *arguments))

    # --- lifetime -----------------------------------------------------------------------

    def token_renewed(self) -> None:
        self.warned = False
        self.wake.set()

    async def close(self, error: str | None, *, allow_reconnect: bool = False) -> None:
        """Send a close message (after the handshake) and close the socket; idempotent."""
        if self.closed:
            return
        if self.handshaken:
            await self._raw(protocol.close(error, allow_reconnect=allow_reconnect))
        self.closed = True
        await self.send({"type": "websocket.close", "code": 1000})
        await self._cleanup()

    async def _run_timers(self) -> None:
        next_tick = time.monotonic() + _secs("HUB_PING_INTERVAL")
        while not self.closed:
            mono, wall = time.monotonic(), time.time()
            exp, warn_at = self.principal.exp, self.principal.exp - _secs("HUB_TOKEN_EXPIRING_BEFORE")
            if wall >= exp:
                await self.close("The access token expired.", allow_reconnect=True)
                return
            if not self.handshaken:
                if mono - self.opened >= _secs("HUB_HANDSHAKE_TIMEOUT"):
                    await self.close(None)
                    return
            elif mono - self.last_received >= _secs("HUB_CLIENT_TIMEOUT"):
                await self.close("The client stopped answering.", allow_reconnect=True)
                return
            elif not self.warned and wall >= warn_at:
                self.warned = True
                await self.call("tokenExpiring", {"expiresAt": exp, "expiresIn": max(0, int(exp - wall))})
            if mono >= next_tick:
                next_tick = mono + _secs("HUB_PING_INTERVAL")
                await self._tick()
                continue
            deadlines = [next_tick - mono, exp - wall]
            if not self.handshaken:
                deadlines.append(self.opened + _secs("HUB_HANDSHAKE_TIMEOUT") - mono)
            else:
                deadlines.append(self.last_received + _secs("HUB_CLIENT_TIMEOUT") - mono)
                if not self.warned:
                    deadlines.append(warn_at - wall)
            self.wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that lands as the wait ends, and this loop would then
            # outlive its connection (and hang an event loop's shutdown).
            try:
                async with asyncio.timeout(max(0.005, min(deadlines))):
                    await self.wake.wait()
            except TimeoutError:
                pass

    async def _tick(self) -> None:
        """Ping, re-check the session, renew the presence lease, sweep lapsed presence."""
        if self.handshaken:
            await self._raw(protocol.ping())
        try:
            await check_session(self.principal)
            if self.paused or self.store_epoch != breaker.epoch:
                if not breaker.available():
                    return
                await self._resume_store()
            await presence.renew(self.principal, self.connection_id)
            await presence.sweep()
        except (SessionRevoked, SessionExpired) as e:
            await self.call("sessionRevoked", {"reason": getattr(e, "reason", e.code)})
            await self.close(f"Session ended ({e.code}).", allow_reconnect=False)
        except (StoreUnavailable, *REDIS_ERRORS):
            # Redis is down: keep the socket; the next tick checks again (from SQL, degraded).
            # Debug only: the store's breaker logs the outage once per process, with the reason,
            # and a line per connection per tick would bury it.
            log.debug("hub tick: session store unavailable for connection %s", self.connection_id)

    async def _raw(self, text: str) -> None:
        await self.send({"type": "websocket.send", "text": text})

    async def _join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.add(group)

    async def _leave_groups(self) -> None:
        for group in list(self.joined):
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except REDIS_ERRORS:
                if not getattr(self, "redis_lost", False):
                    log.warning("hub: could not leave group %s (it expires on its own)", group)
        self.joined.clear()

    async def _cleanup(self) -> None:
        """Leave groups and drop the connection from presence (once)."""
        if getattr(self, "_cleaned", False):
            return
        self._cleaned = True
        fanout.detach(self)
        if getattr(self, "counted", False):
            hub_connection_closed.send(sender=HubConsumer)
        if self.timer is not None and self.timer is not asyncio.current_task():
            self.timer.cancel()
        await self._leave_groups()
        try:
            if await presence.unregister(self.principal, self.connection_id):
                self.after_stop.append(lambda: presence.announce_offline(self.principal))
        except StoreUnavailable:
            if not getattr(self, "redis_lost", False):
                log.warning("hub: could not unregister connection %s (its lease lapses)", self.connection_id)
