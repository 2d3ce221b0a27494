"""A Redis blip under open hub connections: one log line with the reason, no traceback.

With the resilient channel layer (the default) sockets stay open through the
outage (degraded mode); with a layer whose receive raises, the consumer closes
its socket with a close that allows reconnect instead of dying with a traceback.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from sessions_core.services import session_create
from tests.realtime.helpers import open_hub

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def _loud(caplog: Any) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]


async def test_a_redis_blip_logs_one_line_and_keeps_the_sockets(
    user: Any, private_redis: Any, caplog: Any, settings: Any
) -> None:
    settings.AUTHSITE = {**settings.AUTHSITE, "HUB_PING_INTERVAL": timedelta(seconds=0.3)}
    issued = await sync_to_async(session_create)(user=user, ip="127.0.0.1", user_agent="pytest")
    hubs = [await open_hub(issued.access_token) for _ in range(3)]
    caplog.clear()
    caplog.set_level(logging.INFO)
    await asyncio.to_thread(private_redis.stop)
    await asyncio.sleep(2)  # several ticks of every connection
    loud = _loud(caplog)
    # One line per component that noticed (the store's breaker, the fan-out reader), none per
    # connection or per tick: three sockets ticking every 0.3 s for 2 s add nothing.
    assert len(loud) == len({r.name for r in loud}) <= 2, [r.getMessage() for r in loud]
    assert any("Redis unreachable" in r.getMessage() for r in loud)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    for hub in hubs:
        with pytest.raises(TimeoutError):  # no close: the socket waits out the outage
            await hub.next(lambda m: m.get("type") == 7, timeout=0.2)


async def test_a_channel_layer_that_raises_closes_with_reconnect_in_one_line(
    user: Any, private_redis: Any, caplog: Any, settings: Any
) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [private_redis.url]}}
    }
    issued = await sync_to_async(session_create)(user=user, ip="127.0.0.1", user_agent="pytest")
    hub = await open_hub(issued.access_token)
    caplog.clear()
    caplog.set_level(logging.INFO)
    await asyncio.to_thread(private_redis.stop)
    close = await hub.next(lambda m: m.get("type") == 7, timeout=15)
    assert close.get("allowReconnect") is True, close
    await asyncio.sleep(0.3)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    consumer = [r for r in _loud(caplog) if r.name == "realtime.consumer"]
    assert len(consumer) == 1 and "Redis unavailable" in consumer[0].getMessage() and "reconnect" in consumer[0].getMessage()
