"""A Redis blip under an open hub connection: one log line with the reason, no
traceback, and a close the client reconnects after (the site comes back with Redis)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from sessions_core.services import session_create
from tests.realtime.helpers import open_hub

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def test_a_redis_blip_logs_one_line_and_closes_with_reconnect(user: Any, private_redis: Any, caplog: Any) -> None:
    issued = await sync_to_async(session_create)(user=user, ip="127.0.0.1", user_agent="pytest")
    hub = await open_hub(issued.access_token)
    caplog.clear()
    caplog.set_level(logging.INFO)
    await asyncio.to_thread(private_redis.stop)
    close = await hub.next(lambda m: m.get("type") == 7, timeout=15)
    assert close.get("allowReconnect") is True, close
    await asyncio.sleep(0.5)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert "Redis" in lines[0].getMessage() and "reconnect" in lines[0].getMessage()
