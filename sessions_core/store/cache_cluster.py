"""A django-redis connection factory for Redis Cluster (``redis+cluster://`` URLs).

django-redis ships clients for one server, Sentinel and client-side sharding, not
for Redis Cluster. Its default client only issues single-key commands (and
single-key Lua) on the paths authsite uses (rate-limit ``add``/``incr``/``get``),
so handing it a :class:`redis.cluster.RedisCluster` in place of a ``Redis`` works:
each command is routed to the node owning its key's slot. Multi-key cache calls
(``get_many``/``delete_many`` across slots) are not supported on a cluster.
"""
from __future__ import annotations

import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django_redis.pool import ConnectionFactory
from redis.cluster import ClusterNode, RedisCluster

from sessions_core.store.urls import CLUSTER, parse


class ClusterConnectionFactory(ConnectionFactory):  # type: ignore[type-arg]
    """One shared :class:`RedisCluster` per URL per process (it pools per node itself)."""

    _clusters: dict[str, RedisCluster] = {}
    _lock = threading.Lock()

    def connect(self, url: str) -> Any:
        """The cluster client for ``url``; raises ``ImproperlyConfigured`` if it is not a Cluster URL."""
        client = self._clusters.get(url)
        if client is not None:
            return client
        target = parse(url)
        if target.kind != CLUSTER:
            raise ImproperlyConfigured("ClusterConnectionFactory needs a redis+cluster:// LOCATION.")
        timeout = self.options.get("SOCKET_TIMEOUT")
        connect_timeout = self.options.get("SOCKET_CONNECT_TIMEOUT")
        with self._lock:
            client = self._clusters.get(url)
            if client is None:
                client = RedisCluster(
                    startup_nodes=[ClusterNode(h, p) for h, p in target.hosts],
                    password=target.password,
                    socket_timeout=timeout,
                    socket_connect_timeout=connect_timeout,
                )
                self._clusters[url] = client
        return client

    def disconnect(self, connection: Any) -> None:
        """Drop the pooled connections; the shared client reconnects on next use."""
        connection.disconnect_connection_pools()

    @classmethod
    def reset(cls) -> None:
        """Close every cluster client (tests that stop a cluster call this)."""
        with cls._lock:
            for client in cls._clusters.values():
                client.close()
            cls._clusters.clear()
