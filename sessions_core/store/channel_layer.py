"""channels-redis with a receive that outlives a Redis outage.

channels-redis raises out of ``receive()`` when Redis cannot be reached, which
ends the consumer waiting on it: every hub socket of the worker would close
when Redis goes away. Here the receive waits and tries again (capped back-off)
instead, so sockets stay open while Redis is down (degraded mode) and pick up
their messages when it is back. Sends and group changes still raise: their
callers decide (the hub pauses fan-out and presence until the store recovers).
A failed receive also trips the store's breaker (see the comment there).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels_redis.core import RedisChannelLayer

from sessions_core.store.breaker import breaker
from sessions_core.store.client import REDIS_ERRORS

log = logging.getLogger(__name__)

RETRY_FIRST = 0.1
RETRY_MAX = 2.0


class ResilientRedisChannelLayer(RedisChannelLayer):  # type: ignore[misc]
    """:class:`channels_redis.core.RedisChannelLayer` whose ``receive`` retries on connection errors."""

    async def receive(self, channel: str) -> Any:
        delay = RETRY_FIRST
        while True:
            try:
                return await super().receive(channel)
            except REDIS_ERRORS as e:
                # A hub worker with no requests during a short outage still learns of it
                # here, so its sockets join their groups again when Redis is back (an
                # emptied Redis forgot them): the breaker's recovery bumps its epoch.
                breaker.trip()
                log.info("channel layer: Redis unreachable (%s); receive retries in %.1fs", type(e).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
