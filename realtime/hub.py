"""Hub methods a client may invoke (names are case-insensitive, as in ASP.NET Core SignalR).

Each is a thin edge over the session core and :mod:`realtime.presence`; what it
returns becomes the completion's ``result``, a ``HubError`` its ``error``.
"""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from sessions_core.services import authenticate

from realtime import presence
from realtime.auth import HubPrincipal, authenticate_access_token
from realtime.errors import BadArguments, TokenMismatch, UnknownMethod
from realtime.groups import app_group


class HubMethods:
    """Mixin of the hub consumer: one ``hub_method_<name>`` coroutine per hub method."""

    principal: HubPrincipal
    connection_id: str
    channel_layer: Any
    channel_name: str
    joined: set[str]

    def token_renewed(self) -> None:
        """Hook: the consumer re-plans its expiry timers."""

    async def hub_method_renewtoken(self, access_token: Any) -> dict[str, int]:
        """Swap in a new access token for the same user and session; extends the connection's life."""
        if not isinstance(access_token, str):
            raise BadArguments("RenewToken takes the access token string.")
        new = await authenticate_access_token(access_token)
        if new.uid != self.principal.uid or new.sid != self.principal.sid:
            raise TokenMismatch()
        self.principal = new
        self.token_renewed()
        return {"expiresAt": new.exp, "expiresIn": max(0, new.exp - int(time.time()))}

    async def hub_method_getonlineusers(self) -> list[dict[str, str]]:
        """Users with a live connection or a recent heartbeat: ``[{"userId", "name"}]``."""
        return await presence.online_users()

    async def hub_method_heartbeat(self) -> dict[str, int]:
        """Touch the session's last activity (Redis ``la``, flushed to SQL when due) and the user's presence."""
        await authenticate.session_touch(uid=self.principal.uid, sid=self.principal.sid)
        await presence.heartbeat(self.principal)
        return {"serverTime": int(time.time())}

    async def hub_method_joingroup(self, name: Any) -> None:
        """Join application group ``name`` (kept for the session: a reconnect rejoins it)."""
        name = presence.check_group_name(name)
        await presence.join_group(self.principal, name)
        await self.channel_layer.group_add(app_group(name), self.channel_name)
        self.joined.add(app_group(name))

    async def hub_method_leavegroup(self, name: Any) -> None:
        name = presence.check_group_name(name)
        await presence.leave_group(self.principal, name)
        await self.channel_layer.group_discard(app_group(name), self.channel_name)
        self.joined.discard(app_group(name))

    def hub_method(self, target: str, arity: int) -> Callable[..., Awaitable[Any]]:
        """The method for ``target``; raises ``HubError`` if there is none or the argument count is wrong."""
        method = getattr(self, "hub_method_" + target.lower(), None) if target.isalnum() else None
        if method is None:
            raise UnknownMethod(f"Method '{target}' does not exist.")
        expected = method.__code__.co_argcount - 1
        if arity != expected:
            raise BadArguments(f"'{target}' takes {expected} argument(s), got {arity}.")
        return method  # type: ignore[no-any-return]
