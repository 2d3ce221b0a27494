"""The hub over Channels' WebsocketCommunicator: protocol, hub methods, lifetimes."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from realtime import presence
from realtime.groups import anotify_group, anotify_user
from sessions_core.store import keys as redis_keys
from sessions_core.models import AuthSession, RevokeReason
from sessions_core.store.client import get_async_redis
from sessions_core.services import session_create, session_revoke
from tests.realtime.helpers import Hub, access_token, open_hub

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def tune(settings: Any, **values: float) -> None:
    settings.AUTHSITE = {**settings.AUTHSITE, **{k: timedelta(seconds=v) for k, v in values.items()}}


def is_close(m: dict[str, Any]) -> bool:
    return m.get("type") == 7


async def test_unsupported_protocol_gets_handshake_error(issued: Any) -> None:
    hub = Hub(f"/hub?access_token={issued.access_token}")
    assert (await hub.connect())[0]
    await hub.comm.send_to(text_data='{"protocol":"messagepack","version":1}\x1e')
    answer = await hub.next_raw()
    assert "messagepack" in answer["error"]
    assert await hub.closed() == 1000


async def test_invocations_and_completions(issued: Any) -> None:
    hub = await open_hub(issued.access_token)
    ok = await hub.invoke("getonlineusers", invocation_id="a")  # names are case-insensitive
    assert ok == {"type": 3, "invocationId": "a", "result": [{"userId": str(issued.user_id), "name": "Alice"}]}
    missing = await hub.invoke("NoSuchMethod", invocation_id="b")
    assert missing["error"].startswith("unknown_method") and "result" not in missing
    wrong = await hub.invoke("RenewToken", invocation_id="c")
    assert wrong["error"].startswith("bad_arguments")
    # Non-blocking invocation (no invocationId): no completion comes back.
    await hub.send({"type": 1, "target": "Heartbeat", "arguments": []})
    await hub.send({"type": 6})
    assert (await hub.invoke("Heartbeat", invocation_id="d"))["invocationId"] == "d"
    streamed = await hub.send({"type": 4, "invocationId": "e", "target": "Heartbeat", "arguments": []})
    assert streamed is None and "not supported" in (await hub.next(lambda m: m.get("invocationId") == "e"))["error"]
    await hub.disconnect()


async def test_heartbeat_touches_session_activity(issued: Any) -> None:
    r = get_async_redis()
    key = redis_keys.session(issued.user_id, issued.session_id)
    await r.hset(key, "la", 1)
    hub = await open_hub(issued.access_token)
    before = int(time.time() * 1000)
    result = (await hub.invoke("Heartbeat"))["result"]
    assert abs(result["serverTime"] - time.time()) < 5
    assert int(await r.hget(key, "la")) >= before
    await hub.disconnect()


async def test_protocol_violations_close_the_connection(issued: Any, settings: Any) -> None:
    hub = await open_hub(issued.access_token)
    await hub.comm.send_to(bytes_data=b"\x01\x02")
    closing = await hub.next(is_close)
    assert "Binary" in closing["error"] and closing["allowReconnect"] is False
    settings.AUTHSITE = {**settings.AUTHSITE, "HUB_MAX_MESSAGE_BYTES": 100}
    hub = await open_hub(issued.access_token)
    await hub.comm.send_to(text_data="x" * 200)
    assert "maximum size" in (await hub.next(is_close))["error"]
    hub = await open_hub(issued.access_token)
    await hub.comm.send_to(text_data="{not json\x1e")
    assert "not valid" in (await hub.next(is_close))["error"]


async def test_server_pings_and_drops_a_silent_client(issued: Any, settings: Any) -> None:
    tune(settings, HUB_PING_INTERVAL=0.2, HUB_CLIENT_TIMEOUT=0.7)
    hub = await open_hub(issued.access_token)
    assert (await hub.next(lambda m: m.get("type") == 6, timeout=2)) == {"type": 6}
    closing = await hub.next(is_close, timeout=3)
    assert closing["allowReconnect"] is True and "stopped answering" in closing["error"]


async def test_renew_token_same_session_only(issued: Any, user: Any) -> None:
    hub = await open_hub(issued.access_token)
    fresh = access_token(issued.user_id, issued.session_id, exp_in=1800)
    renewed = (await hub.invoke("RenewToken", fresh, invocation_id="r1"))["result"]
    assert 1790 <= renewed["expiresIn"] <= 1800
    other = await sync_to_async(session_create)(user=user, ip=None, user_agent="other device")
    mismatch = await hub.invoke("RenewToken", other.access_token, invocation_id="r2")
    assert mismatch["error"].startswith("token_mismatch")
    garbage = await hub.invoke("RenewToken", "x.y.z", invocation_id="r3")
    assert garbage["error"].startswith("token_invalid")
    assert "result" in await hub.invoke("GetOnlineUsers", invocation_id="r4")  # still connected
    await hub.disconnect()


async def test_expiring_token_warned_then_closed_with_reconnect(issued: Any) -> None:
    hub = await open_hub(access_token(issued.user_id, issued.session_id, exp_in=2))
    warning = await hub.call("tokenExpiring")
    assert 0 <= warning["arguments"][0]["expiresIn"] <= 2
    started = time.monotonic()
    closing = await hub.next(is_close, timeout=4)
    assert closing == {"type": 7, "error": "The access token expired.", "allowReconnect": True}
    assert time.monotonic() - started < 3
    assert await hub.closed() == 1000


async def test_renewal_keeps_the_connection_past_the_old_expiry(issued: Any) -> None:
    hub = await open_hub(access_token(issued.user_id, issued.session_id, exp_in=2))
    await hub.call("tokenExpiring")
    await hub.invoke("RenewToken", access_token(issued.user_id, issued.session_id, exp_in=600))
    assert await hub.comm.receive_nothing(timeout=2.5, interval=0.05)
    assert "result" in await hub.invoke("GetOnlineUsers", invocation_id="later")
    await hub.disconnect()


async def test_revoke_closes_without_reconnect_within_a_second(issued: Any) -> None:
    hub = await open_hub(issued.access_token)
    row = await AuthSession.objects.aget(pk=issued.session_id)
    started = time.monotonic()
    await sync_to_async(session_revoke)(session=row, reason=RevokeReason.ADMIN)
    revoked = await hub.call("sessionRevoked", timeout=1)
    assert revoked["arguments"] == [{"reason": "admin"}]
    closing = await hub.next(is_close, timeout=1)
    assert closing["allowReconnect"] is False and "admin" in closing["error"]
    assert await hub.closed(timeout=1) == 1000
    assert time.monotonic() - started < 1.0


async def test_presence_online_offline_and_heartbeat(issued: Any, bob: Any, monkeypatch: Any) -> None:
    alice = await open_hub(issued.access_token)
    bob_issued = await sync_to_async(session_create)(user=bob, ip=None, user_agent="bob")
    bob_hub = await open_hub(bob_issued.access_token)
    came = await alice.call("presenceChanged")
    assert came["arguments"] == [{"userId": str(bob.pk), "name": "Bob", "online": True}]
    online = (await alice.invoke("GetOnlineUsers"))["result"]
    assert sorted(u["name"] for u in online) == ["Alice", "Bob"]
    await bob_hub.disconnect()
    went = await alice.call("presenceChanged")
    assert went["arguments"] == [{"userId": str(bob.pk), "name": "Bob", "online": False}]

    # With a heartbeat, closing the last connection leaves the user online until its lease lapses.
    bob_hub = await open_hub(bob_issued.access_token)
    await alice.call("presenceChanged")
    await bob_hub.invoke("Heartbeat")
    await bob_hub.disconnect()
    assert await alice.comm.receive_nothing(timeout=0.3)
    assert str(bob.pk) in [u["userId"] for u in await presence.online_users()]
    later = presence.now_ms() + 121_000
    monkeypatch.setattr(presence, "now_ms", lambda: later)
    assert str(bob.pk) not in [u["userId"] for u in await presence.online_users()]
    assert int(bob.pk) in await presence.sweep(force=True)
    assert (await alice.call("presenceChanged"))["arguments"][0]["online"] is False
    await alice.disconnect()


async def test_presence_survives_a_worker_that_died(issued: Any, monkeypatch: Any) -> None:
    """Connection state is in Redis: a crashed worker's connection lapses with its lease."""
    from realtime.auth import HubPrincipal

    p = HubPrincipal(uid=issued.user_id, sid=issued.session_id, jti="j", tv=1, exp=0, name="Alice")
    await presence.register(p, "conn-of-dead-worker")  # never unregistered: the worker died
    assert await presence.connections_of(issued.user_id) == {"conn-of-dead-worker": issued.session_id}
    assert [u["userId"] for u in await presence.online_users()] == [str(issued.user_id)]
    later = presence.now_ms() + 46_000
    monkeypatch.setattr(presence, "now_ms", lambda: later)
    assert await presence.online_users() == []
    assert await presence.sweep(force=True) == [issued.user_id]
    # The next registration prunes the dead connection.
    await presence.register(p, "new-conn")
    assert await presence.connections_of(issued.user_id) == {"new-conn": issued.session_id}


async def test_reconnect_gets_group_memberships_and_presence_back(issued: Any) -> None:
    hub = await open_hub(issued.access_token)
    assert (await hub.invoke("JoinGroup", "lobby"))["result"] is None
    bad = await hub.invoke("JoinGroup", "no spaces!", invocation_id="2")
    assert bad["error"].startswith("bad_group")
    await hub.disconnect()
    assert await presence.online_users() == []
    again = await open_hub(access_token(issued.user_id, issued.session_id, exp_in=600))
    assert [u["userId"] for u in await presence.online_users()] == [str(issued.user_id)]
    await anotify_group("lobby", {"text": "hello lobby"})
    assert (await again.call("notify"))["arguments"] == [{"text": "hello lobby"}]
    await anotify_user(issued.user_id, {"text": "just you"})
    assert (await again.call("notify"))["arguments"] == [{"text": "just you"}]
    await again.invoke("LeaveGroup", "lobby", invocation_id="3")
    await anotify_group("lobby", {"text": "gone"})
    assert await again.comm.receive_nothing(timeout=0.3)
    await again.disconnect()


async def test_eviction_and_token_version_bump_close_with_their_reason(issued: Any, user: Any) -> None:
    from sessions_core.services import user_bump_token_version

    hub = await open_hub(issued.access_token)
    for n in range(5):  # the cap is 5: the sixth sign-in evicts the least recently active (ours)
        await sync_to_async(session_create)(user=user, ip=None, user_agent=f"device {n}")
    assert (await hub.call("sessionRevoked", timeout=1))["arguments"] == [{"reason": "evicted"}]
    assert "evicted" in (await hub.next(is_close, timeout=1))["error"]
    newest = await sync_to_async(session_create)(user=user, ip=None, user_agent="device 5")
    other = await open_hub(newest.access_token)
    await sync_to_async(user_bump_token_version)(user=user)
    assert (await other.call("sessionRevoked", timeout=1))["arguments"] == [{"reason": "token_version"}]
    assert (await other.next(is_close, timeout=1))["allowReconnect"] is False


async def test_open_connections_gauge_follows_the_hub(issued: Any) -> None:
    from prometheus_client import REGISTRY

    def open_now() -> float:
        return REGISTRY.get_sample_value("authsite_hub_connections") or 0.0

    before = open_now()
    hub = await open_hub(issued.access_token)
    assert open_now() == before + 1
    await hub.disconnect()
    assert open_now() == before
