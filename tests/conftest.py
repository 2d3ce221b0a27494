"""Shared fixtures.

Every test gets its own Redis key prefix on the suite's Redis (``REDIS_URL``,
which ``make test`` points at a private server it started), so tests never see
each other's keys and nothing is flushed. Tests that stop, restart or flush
Redis use ``private_redis``, a server of their own.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as dj_settings

from sessions_core import ratelimits
from sessions_core.store import degraded
from sessions_core.store.breaker import breaker
from sessions_core.tokens import signing_keys
from sessions_core.store.client import reset_clients
from sessions_core.store.urls import CHANNEL_LAYER_BACKEND
from tests.support.redis_server import RedisServer


@pytest.fixture(autouse=True)
def _isolated_auth(settings: Any) -> Iterator[None]:
    conf = dict(getattr(dj_settings, "AUTHSITE", {}))
    conf["REDIS_KEY_PREFIX"] = f"t{uuid.uuid4().hex[:10]}"
    # Tests drive the store's breaker probe themselves (breaker.probe()).
    conf["STORE_PROBE_THREAD"] = False
    settings.AUTHSITE = conf
    settings.RATELIMIT_ENABLE = True
    settings.CACHES = {
        "default": {**dj_settings.CACHES["default"], "KEY_PREFIX": conf["REDIS_KEY_PREFIX"]},
    }
    signing_keys.reset_for_tests()
    yield
    signing_keys.reset_for_tests()
    breaker.reset()
    degraded.clear()
    ratelimits.local.clear()


def point_redis_at(settings: Any, url: str) -> None:
    """Send the store, the cache and the channel layer to ``url``."""
    settings.REDIS_URL = url
    settings.CACHES = {"default": {**dj_settings.CACHES["default"], "LOCATION": url}}
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": CHANNEL_LAYER_BACKEND, "CONFIG": {"hosts": [url]}}
    }
    # Changing CACHES through the settings fixture makes Django drop its cache
    # connections (django.test.signals); our own clients are dropped here.
    reset_clients()


@pytest.fixture
def private_redis(settings: Any) -> Iterator[RedisServer]:
    server = RedisServer().start()
    point_redis_at(settings, server.url)
    yield server
    server.close()
    reset_clients()


@pytest.fixture
def user(db: Any) -> Any:
    from sessions_core.models import User

    return User.objects.create(username="alice", discord_id="1001", discord_username="Alice", playfab_id="PF1")


@pytest.fixture(scope="session", autouse=True)
def _end_stray_database_sessions(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Let the test database be dropped at the end of the run.

    Threads (sync_to_async executors, concurrency tests) keep their own
    connections; PostgreSQL refuses to drop a database anyone is connected to.
    """
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
