from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.db import connections

from sessions_core.services import IssuedTokens, session_create
from tests.realtime.helpers import OPENED


@pytest.fixture
def issued(user: Any) -> IssuedTokens:
    """A live session of ``user`` (tokens as sign-in hands them out)."""
    return session_create(user=user, ip="127.0.0.1", user_agent="pytest")


@pytest.fixture
def bob(db: Any) -> Any:
    from sessions_core.models import User

    return User.objects.create(username="bob", discord_id="1002", discord_username="Bob")


@pytest_asyncio.fixture(autouse=True)
async def _close_executor_db_connections() -> AsyncIterator[None]:
    """Close the database connections ``sync_to_async`` opened on asgiref's worker thread.

    pytest-django closes only the main thread's; one left open on PostgreSQL
    keeps the test database from being dropped at the end of the run.
    """
    yield
    await sync_to_async(connections.close_all)()


@pytest_asyncio.fixture(autouse=True)
async def _disconnect_hubs() -> AsyncIterator[None]:
    """Deliver ``websocket.disconnect`` to every hub a test left open, as daphne does.

    Without it the consumers would still be waiting on their channel-layer
    receive when the test's event loop shuts down, and cancelling a pending
    channels-redis receive there can hang the shutdown.
    """
    yield
    while OPENED:
        hub = OPENED.pop()
        if not hub.comm.future.done():
            await hub.comm.disconnect(timeout=3)
