"""Redis clients from ``settings.REDIS_URL``: a sync one per process, an async one per event loop.

Accepted forms: ``redis://`` / ``rediss://`` / ``unix://`` (one server),
``redis+sentinel://[:password@]host:port[,host:port]/service_name[/db]`` and
``redis+cluster://host:port[,host:port]``.
"""
from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any

import redis
import redis.asyncio as aredis
from django.conf import settings

from sessions_core.conf import auth_settings
from sessions_core.store.urls import CLUSTER, SENTINEL, parse

_sync_lock = threading.Lock()
_sync_clients: dict[str, Any] = {}
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]]" = weakref.WeakKeyDictionary()


def _retry(module: Any) -> Any:
    # One immediate retry on a fresh connection: after Redis comes back, pooled
    # sockets are dead, and the first command on each must not trip the breaker
    # again. Down for real, the retry is refused as fast as the first try.
    retry_module = module.retry if module is aredis else redis.retry
    return retry_module.Retry(redis.backoff.NoBackoff(), 1)


def _build(url: str, module: Any) -> Any:
    opts = {
        "socket_timeout": auth_settings.REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": auth_settings.REDIS_CONNECT_TIMEOUT,
        "health_check_interval": 30,
        "retry": _retry(module),
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
    }
    target = parse(url)
    if target.kind == CLUSTER:
        # The cluster client has its own retries (per node, with slot refresh).
        del opts["retry"], opts["retry_on_error"]
        nodes = [module.cluster.ClusterNode(h, p) for h, p in target.hosts]
        return module.cluster.RedisCluster(startup_nodes=nodes, password=target.password, **opts)
    if target.kind == SENTINEL:
        sentinel = module.sentinel.Sentinel(list(target.hosts), sentinel_kwargs={"password": target.password}, **opts)
        return sentinel.master_for(target.service, db=target.db, password=target.password)
    return module.Redis.from_url(url, **opts)


def get_redis() -> redis.Redis:
    """The process-wide sync client."""
    url = settings.REDIS_URL
    client = _sync_clients.get(url)
    if client is None:
        with _sync_lock:
            client = _sync_clients.get(url)
            if client is None:
                client = _sync_clients[url] = _build(url, redis)
    return client  # type: ignore[no-any-return]


def get_async_redis() -> aredis.Redis:
    """The async client of the running event loop (connections cannot cross loops)."""
    loop = asyncio.get_running_loop()
    per_loop = _async_clients.get(loop)
    if per_loop is None:
        per_loop = _async_clients[loop] = {}
    url = settings.REDIS_URL
    client = per_loop.get(url)
    if client is None:
        client = per_loop[url] = _build(url, aredis)
    return client  # type: ignore[no-any-return]


def reset_clients() -> None:
    """Drop cached clients (tests that point REDIS_URL elsewhere call this)."""
    with _sync_lock:
        for c in _sync_clients.values():
            try:
                c.close()
            except redis.RedisError:
                pass
        _sync_clients.clear()
    _async_clients.clear()


REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterDownError, OSError)
