"""REDIS_URL forms for the cache and the channel layer; a live Sentinel deployment end to end."""
from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from ops.checks import channel_layer_problems, redis_problems
from sessions_core.conf import auth_settings
from sessions_core.models import AuthSession, RevokeReason
from sessions_core.store.client import get_redis, reset_clients
from sessions_core.store.urls import cache_config, channel_layer_config, parse
from sessions_core.services import session_create, session_revoke
from tests.support.redis_server import RedisServer, free_port, redis_binary

from .helpers import signed_in, validate_status


def test_plain_urls_pass_through():
    assert cache_config("rediss://:pw@cache.internal:6380/2", key_prefix="p")["LOCATION"] == "rediss://:pw@cache.internal:6380/2"
    layer = channel_layer_config("redis://127.0.0.1:6379/0", prefix="c")
    assert layer["CONFIG"]["prefix"] == "c"
    assert layer["CONFIG"]["hosts"][0]["address"] == "redis://127.0.0.1:6379/0"


def test_sentinel_url_becomes_sentinel_settings_for_cache_and_layer():
    url = "redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26380/mymaster/3"
    target = parse(url)
    assert (target.kind, target.service, target.db, target.hosts) == (
        "sentinel", "mymaster", 3, (("10.0.0.1", 26379), ("10.0.0.2", 26380)),
    )
    assert "s3cret" not in target.describe()
    cfg = cache_config(url, key_prefix="p")
    assert cfg["LOCATION"] == "redis://mymaster/3"
    assert cfg["OPTIONS"]["CONNECTION_FACTORY"] == "django_redis.pool.SentinelConnectionFactory"
    assert cfg["OPTIONS"]["SENTINELS"] == [("10.0.0.1", 26379), ("10.0.0.2", 26380)]
    assert cfg["OPTIONS"]["PASSWORD"] == "s3cret"
    host = channel_layer_config(url, prefix="c")["CONFIG"]["hosts"][0]
    assert host["master_name"] == "mymaster" and host["db"] == 3 and host["sentinels"][1] == ("10.0.0.2", 26380)


def test_cluster_url_serves_the_cache_but_not_the_channel_layer():
    url = "redis+cluster://10.0.0.1:7000,10.0.0.2:7001"
    cfg = cache_config(url, key_prefix="p")
    assert cfg["LOCATION"] == [url]  # a list: django-redis must not split the node list
    assert cfg["OPTIONS"]["CONNECTION_FACTORY"] == "sessions_core.store.cache_cluster.ClusterConnectionFactory"
    with pytest.raises(ImproperlyConfigured, match="CHANNEL_REDIS_URL"):
        channel_layer_config(url, prefix="c")


@pytest.mark.parametrize("url", ["memcached://x", "redis+sentinel://10.0.0.1:26379", "redis+cluster://host:port"])
def test_unusable_urls_are_configuration_errors(url):
    with pytest.raises(ImproperlyConfigured):
        cache_config(url, key_prefix="p")


class Sentinel:
    """One master and one Sentinel monitoring it, on free loopback ports."""

    def __init__(self) -> None:
        self.master = RedisServer().start()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="authsite-sentinel-"))
        conf = self.dir / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
            f"sentinel monitor mymaster 127.0.0.1 {self.master.port} 1\n"
            "sentinel down-after-milliseconds mymaster 5000\n"
        )
        self.proc = subprocess.Popen([redis_binary(), str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.execute_command("SENTINEL", "get-master-addr-by-name", "mymaster"):
                    break
            except redis.RedisError:
                pass
            assert time.monotonic() < deadline, "sentinel did not come up"
            time.sleep(0.05)  # polling a starting subprocess

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.port}/mymaster/0"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.master.close()


@pytest.fixture
def on_sentinel(settings: Any) -> Iterator[Sentinel]:
    sentinel = Sentinel()
    prefix = str(auth_settings.REDIS_KEY_PREFIX)
    settings.REDIS_URL = sentinel.url
    settings.CACHES = {"default": cache_config(sentinel.url, key_prefix=prefix)}
    settings.CHANNEL_LAYERS = {"default": channel_layer_config(sentinel.url, prefix=f"{prefix}:chan")}
    reset_clients()
    yield sentinel
    reset_clients()
    sentinel.close()


@pytest.mark.django_db(transaction=True)
def test_store_cache_and_channel_layer_through_sentinel(on_sentinel, user, settings):
    client, issued = signed_in(user)
    assert validate_status(client) == (200, "")
    # Everything landed on the master Sentinel named.
    assert on_sentinel.master.client().exists(f"{auth_settings.REDIS_KEY_PREFIX}:{{u{user.pk}}}:s:{issued.session_id}")
    cache.set("sentinel-probe", 1)
    assert on_sentinel.master.client().keys("*sentinel-probe*")
    settings.AUTHSITE = {**settings.AUTHSITE, "RATE_REFRESH": "1/m"}
    assert client.post("/auth/refresh").status_code == 200
    assert client.post("/auth/refresh").status_code == 429
    assert redis_problems() == [] and channel_layer_problems() == []
    assert get_redis().ping()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_revoke_fan_out_over_a_sentinel_managed_channel_layer(on_sentinel, user):
    from tests.realtime.helpers import open_hub

    issued = await sync_to_async(session_create)(user=user, ip="127.0.0.1", user_agent="t")
    hub = await open_hub(issued.access_token)
    try:
        row = await AuthSession.objects.aget(pk=issued.session_id)
        await sync_to_async(session_revoke)(session=row, reason=RevokeReason.ADMIN)
        assert (await hub.call("sessionRevoked", timeout=2))["arguments"] == [{"reason": "admin"}]
    finally:
        await hub.disconnect()
