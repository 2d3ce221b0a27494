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
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aredis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .conf import auth_settings

_sync_lock = threading.Lock()
_sync_clients: dict[str, Any] = {}
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]]" = weakref.WeakKeyDictionary()


def _hosts(netloc: str) -> tuple[str | None, list[tuple[str, int]]]:
    password = None
    if "@" in netloc:
        cred, netloc = netloc.rsplit("@", 1)
        password = unquote(cred.split(":", 1)[-1]) or None
    hosts = []
    for part in netloc.split(","):
        host, _, port = part.rpartition(":")
        if not host:
            host, port = part, "6379"
        hosts.append((host.strip("[]"), int(port)))
    return password, hosts


def _build(url: str, module: Any) -> Any:
    timeout = auth_settings.REDIS_SOCKET_TIMEOUT
    opts = {"socket_timeout": timeout, "socket_connect_timeout": timeout, "health_check_interval": 30}
    parts = urlsplit(url)
    if parts.scheme == "redis+cluster":
        password, hosts = _hosts(parts.netloc)
        nodes = [module.cluster.ClusterNode(h, p) for h, p in hosts]
        return module.cluster.RedisCluster(startup_nodes=nodes, password=password, **opts)
    if parts.scheme == "redis+sentinel":
        password, hosts = _hosts(parts.netloc)
        path = [p for p in parts.path.split("/") if p]
        if not path:
            raise ImproperlyConfigured("A Sentinel REDIS_URL needs the service name as its path.")
        db = int(path[1]) if len(path) > 1 else 0
        sentinel = module.sentinel.Sentinel(hosts, sentinel_kwargs={"password": password}, **opts)
        return sentinel.master_for(path[0], db=db, password=password)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"REDIS_URL has an unsupported scheme {parts.scheme!r}.")
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
