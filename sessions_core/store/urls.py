"""Turn one Redis URL into the cache and channel-layer settings that fit it.

Pure functions with no Django settings access, so ``authsite/settings.py`` can call
them while settings are being built. Accepted forms (the same as the store's, see
:mod:`sessions_core.store.client`):

- ``redis://``, ``rediss://`` (TLS), ``unix://``: one server.
- ``redis+sentinel://[:password@]host:port[,host:port]/service_name[/db]``: the
  master Sentinel names ``service_name`` (the password is used for the Sentinels
  and the master alike).
- ``redis+cluster://[:password@]host:port[,host:port]``: a Redis Cluster (startup
  nodes; the rest are discovered).

channels-redis has no Redis Cluster support (its group sends run multi-key Lua
across one connection), so a Cluster URL cannot serve the channel layer: point
``CHANNEL_REDIS_URL`` at a plain or Sentinel-managed Redis for it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

SINGLE, SENTINEL, CLUSTER = "single", "sentinel", "cluster"


@dataclass(frozen=True)
class RedisTarget:
    """What a Redis URL points at."""

    kind: str
    url: str
    hosts: tuple[tuple[str, int], ...] = ()
    password: str | None = None
    service: str = ""
    db: int = 0

    def describe(self) -> str:
        """A log-safe summary (never the password)."""
        if self.kind == SINGLE:
            parts = urlsplit(self.url)
            where = parts.hostname or parts.path or "?"
            port = f":{parts.port}" if parts.port else ""
            return f"{parts.scheme}://{where}{port}{parts.path if parts.hostname else ''}"
        nodes = ",".join(f"{h}:{p}" for h, p in self.hosts)
        if self.kind == SENTINEL:
            return f"sentinel {nodes} service {self.service!r} db {self.db}"
        return f"cluster {nodes}"


def _hosts(netloc: str) -> tuple[str | None, tuple[tuple[str, int], ...]]:
    password = None
    if "@" in netloc:
        cred, netloc = netloc.rsplit("@", 1)
        password = unquote(cred.split(":", 1)[-1]) or None
    hosts = []
    for part in netloc.split(","):
        host, _, port = part.rpartition(":")
        if not host:
            host, port = part, "6379"
        try:
            hosts.append((host.strip("[]"), int(port)))
        except ValueError as e:
            raise ImproperlyConfigured(f"Redis URL has a bad host:port {part!r}.") from e
    if not hosts or not all(h for h, _ in hosts):
        raise ImproperlyConfigured("Redis URL names no host.")
    return password, tuple(hosts)


def parse(url: str) -> RedisTarget:
    """Classify ``url``; raises ``ImproperlyConfigured`` for a form we cannot use."""
    parts = urlsplit(url)
    if parts.scheme == "redis+cluster":
        password, hosts = _hosts(parts.netloc)
        return RedisTarget(kind=CLUSTER, url=url, hosts=hosts, password=password)
    if parts.scheme == "redis+sentinel":
        password, hosts = _hosts(parts.netloc)
        path = [p for p in parts.path.split("/") if p]
        if not path:
            raise ImproperlyConfigured("A Sentinel Redis URL needs the service name as its path.")
        try:
            db = int(path[1]) if len(path) > 1 else 0
        except ValueError as e:
            raise ImproperlyConfigured("A Sentinel Redis URL's database must be a number.") from e
        return RedisTarget(kind=SENTINEL, url=url, hosts=hosts, password=password, service=path[0], db=db)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"Redis URL has an unsupported scheme {parts.scheme!r}.")
    return RedisTarget(kind=SINGLE, url=url)


def cache_config(url: str, *, key_prefix: str, timeout: float = 2.0) -> dict[str, Any]:
    """A django-redis ``CACHES`` entry for ``url`` (plain, Sentinel or Cluster)."""
    target = parse(url)
    options: dict[str, Any] = {"SOCKET_CONNECT_TIMEOUT": timeout, "SOCKET_TIMEOUT": timeout}
    location: str | list[str] = url
    if target.kind == SENTINEL:
        # The default client on a Sentinel-managed pool: every read goes to the
        # master, so rate-limit counters are never read from a lagging replica.
        options["CONNECTION_FACTORY"] = "django_redis.pool.SentinelConnectionFactory"
        options["SENTINELS"] = list(target.hosts)
        if target.password:
            options["SENTINEL_KWARGS"] = {"password": target.password}
            options["PASSWORD"] = target.password
        location = f"redis://{target.service}/{target.db}"
    elif target.kind == CLUSTER:
        options["CONNECTION_FACTORY"] = "sessions_core.store.cache_cluster.ClusterConnectionFactory"
        # A list, so django-redis does not split the node list on its commas.
        location = [url]
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": location,
        "KEY_PREFIX": key_prefix,
        "OPTIONS": options,
    }


# channels-redis waits for messages with BZPOPMIN for 5 s, and redis-py's default
# socket timeout is also 5 s: the read can time out just as the server answers,
# which kills the consumer (and its WebSocket). Give the layer's sockets room.
CHANNEL_SOCKET_TIMEOUT = 15.0


# channels-redis, with a receive that waits out a Redis outage (hub sockets stay open).
CHANNEL_LAYER_BACKEND = "sessions_core.store.channel_layer.ResilientRedisChannelLayer"


def channel_layer_config(url: str, *, prefix: str) -> dict[str, Any]:
    """A channels-redis ``CHANNEL_LAYERS`` entry; raises ``ImproperlyConfigured`` for a Cluster URL."""
    target = parse(url)
    host: dict[str, Any]
    if target.kind == CLUSTER:
        raise ImproperlyConfigured(
            "channels-redis cannot use Redis Cluster. Set CHANNEL_REDIS_URL to a plain or "
            "redis+sentinel:// URL for the channel layer (the session store and cache may stay on the cluster)."
        )
    if target.kind == SENTINEL:
        host = {
            "sentinels": list(target.hosts), "master_name": target.service, "db": target.db,
            "socket_timeout": CHANNEL_SOCKET_TIMEOUT,
        }
        if target.password:
            host["password"] = target.password
            host["sentinel_kwargs"] = {"password": target.password}
    else:
        host = {"address": url, "socket_timeout": CHANNEL_SOCKET_TIMEOUT}
    return {"BACKEND": CHANNEL_LAYER_BACKEND, "CONFIG": {"hosts": [host], "prefix": prefix}}
