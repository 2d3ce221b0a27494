"""The hub while Redis is away: sockets stay open, handshakes are checked from SQL,
revocations still close sockets, and fan-out and presence resume when Redis returns."""
from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from realtime import presence
from realtime.groups import anotify_user
from sessions_core.models import AuthSession, RevokeReason
from sessions_core.services import session_create, session_revoke
from sessions_core.store.breaker import breaker
from tests.realtime.helpers import Hub, access_token, open_hub

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def tune(settings: Any, **values: float) -> None:
    settings.AUTHSITE = {**settings.AUTHSITE, **{k: timedelta(seconds=v) for k, v in values.items()}}


def is_close(m: dict[str, Any]) -> bool:
    return m.get("type") == 7


async def wait_for(predicate: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_sockets_stay_open_and_handshakes_pass_while_redis_is_down(
    issued: Any, user: Any, private_redis: Any, settings: Any
) -> None:
    tune(settings, HUB_PING_INTERVAL=0.2)
    old = await open_hub(issued.access_token)
    await sync_to_async(private_redis.stop)()
    # Several ticks with Redis gone: pings keep coming, the socket stays.
    for _ in range(4):
        ping = await old.next(lambda m: m.get("type") == 6, timeout=2)
        assert "__closed__" not in ping
    assert breaker.degraded

    # A new connection: negotiate hands out a self-contained token, the handshake checks SQL.
    other = await sync_to_async(session_create)(user=user, ip=None, user_agent="second")
    from realtime import negotiation
    from realtime.auth import verify_access_token

    principal = await verify_access_token(other.access_token)
    connection_id, token = await negotiation.create(principal)
    assert token.startswith("d.")
    new = Hub(f"/hub?access_token={other.access_token}&id={token}")
    ok, code = await new.connect()
    assert ok, code
    assert await new.handshake() == {}
    renewed = await old.invoke("RenewToken", access_token(issued.user_id, issued.session_id, exp_in=900))
    assert renewed.get("error") is None, renewed

    # Revoked while degraded: the periodic check (from SQL) closes it for good.
    row = await AuthSession.objects.aget(pk=other.session_id)
    await sync_to_async(session_revoke)(session=row, reason=RevokeReason.ADMIN)
    revoked = await new.call("sessionRevoked", timeout=2)
    assert revoked["arguments"] == [{"reason": "admin"}]
    assert (await new.next(is_close, timeout=1))["allowReconnect"] is False

    # Redis is back (empty): the breaker's probe closes it, the next tick joins the
    # groups again and registers presence; fan-out reaches the socket again.
    await sync_to_async(private_redis.start)()
    assert await sync_to_async(breaker.probe)()

    async def registered() -> bool:
        return bool(await presence.connections_of(issued.user_id))

    await wait_for(registered)
    await anotify_user(issued.user_id, {"text": "back"})
    assert (await old.call("notify"))["arguments"] == [{"text": "back"}]
    await old.disconnect()


async def test_revoked_during_the_outage_closes_at_recovery_through_the_replayed_signal(
    issued: Any, private_redis: Any, settings: Any
) -> None:
    """A socket held by another worker: with the ticks far apart, the close comes from the
    recovery re-sending ``session_revoked`` once Redis (and the fan-out) is back."""
    hub = await open_hub(issued.access_token)
    tune(settings, HUB_PING_INTERVAL=60)
    await sync_to_async(private_redis.client().save)()
    await sync_to_async(private_redis.stop)()
    row = await AuthSession.objects.aget(pk=issued.session_id)
    await sync_to_async(session_revoke)(session=row, reason=RevokeReason.LOGOUT)  # fan-out fails: Redis is away
    assert breaker.degraded
    assert await hub.comm.receive_nothing(timeout=0.3)
    # Redis returns with its old data (the group membership survived): the recovery's replay closes the socket.
    await sync_to_async(private_redis.start)()
    started = time.monotonic()
    assert await sync_to_async(breaker.probe)()
    revoked = await hub.call("sessionRevoked", timeout=2)
    assert revoked["arguments"] == [{"reason": "logout"}]
    assert time.monotonic() - started < 2
