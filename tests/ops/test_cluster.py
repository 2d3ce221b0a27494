"""The session lifecycle on a three-master Redis Cluster (store and cache), fan-out on a plain Redis.

``REDIS_URL=redis+cluster://...`` sends the session store and the rate-limit cache
to the cluster; the channel layer (channels-redis has no Cluster support) runs on a
separate plain Redis via ``CHANNEL_REDIS_URL``-style settings. Every multi-key
script touches one user's keys only (one hash tag, one slot), including the
blacklist keys the REVOKE script names itself.
"""
from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.db import connection
from django.test import Client

from sessions_core import store

from sessions_core.tokens import signing_keys

from sessions_core.store import keys as redis_keys
from sessions_core.store.cache_cluster import ClusterConnectionFactory
from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE, auth_settings
from sessions_core.errors import SessionRevoked
from sessions_core.models import AuthSession, RevokeReason, SessionState, User
from sessions_core.store.client import get_redis, reset_clients
from sessions_core.store.urls import cache_config, channel_layer_config
from sessions_core.services import session_create, session_refresh, session_revoke
from sessions_core.tokens import read_access_token
from tests.support.redis_server import RedisServer

from .helpers import revoked_signals, signed_in, validate_status
from .redis_cluster import RedisClusterServers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisClusterServers]:
    servers = RedisClusterServers().start()
    yield servers
    servers.close()


@pytest.fixture
def on_cluster(cluster: RedisClusterServers, settings: Any) -> Iterator[RedisClusterServers]:
    channel_redis = RedisServer().start()
    prefix = str(auth_settings.REDIS_KEY_PREFIX)
    settings.REDIS_URL = cluster.url
    settings.CACHES = {"default": cache_config(cluster.url, key_prefix=prefix)}
    settings.CHANNEL_LAYERS = {"default": channel_layer_config(channel_redis.url, prefix=f"{prefix}:chan")}
    reset_clients()
    yield cluster
    reset_clients()
    ClusterConnectionFactory.reset()
    channel_redis.close()


def access_check(token: str) -> bool | None:
    claims = read_access_token(signing_keys.get_keyring(), token)
    asyncio.run(store.acheck_access(claims.sub, claims.sid, claims.jti, claims.tv))
    return True


def test_the_store_really_is_the_cluster(on_cluster):
    from redis.cluster import RedisCluster

    assert isinstance(get_redis(), RedisCluster)
    users = [User.objects.create(username=f"u{i}") for i in range(12)]
    for u in users:
        signed_in(u)
    # Twelve users' hash tags land on more than one master.
    assert sum(1 for i in range(3) if on_cluster.node(i).dbsize() > 0) >= 2


def test_create_validate_refresh_and_revoke_over_http(on_cluster, user):
    client, issued = signed_in(user)
    assert validate_status(client) == (200, "")
    refreshed = client.post("/auth/refresh")
    assert refreshed.status_code == 200 and refreshed.cookies[REFRESH_COOKIE].value != issued.refresh_token
    client.cookies[SESSION_COOKIE] = refreshed.cookies[SESSION_COOKIE].value
    client.cookies[REFRESH_COOKIE] = refreshed.cookies[REFRESH_COOKIE].value
    assert access_check(refreshed.json()["access_token"]) is True
    # The old refresh token inside the grace window gets the same pair (sibling tab).
    sibling = Client()
    sibling.cookies[REFRESH_COOKIE] = issued.refresh_token
    assert sibling.post("/auth/refresh").json()["access_token"] == refreshed.json()["access_token"]

    row = AuthSession.objects.get(pk=issued.session_id)
    with revoked_signals() as sent:
        session_revoke(session=row, reason=RevokeReason.ADMIN)
    assert sent and sent[0]["sid"] == issued.session_id
    assert validate_status(client) == (401, "session_revoked")
    # REVOKE built the blacklist keys in Lua from the user's tag: they exist on the cluster.
    for token in (issued.access_token, refreshed.json()["access_token"]):
        claims = read_access_token(signing_keys.get_keyring(), token)
        assert get_redis().exists(redis_keys.blacklist(user.pk, claims.jti)) == 1
        with pytest.raises(SessionRevoked) as info:
            access_check(token)
        assert info.value.reason == "blacklisted"


def test_twenty_concurrent_refreshes_on_the_cluster(on_cluster, user):
    issued = session_create(user=user, ip="127.0.0.1", user_agent="t")
    barrier = threading.Barrier(20)
    results: list[Any] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(session_refresh(refresh_token=issued.refresh_token, ip="127.0.0.1"))
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [r.kind for r in results].count("rotated") == 1
    assert len({(r.tokens.session_token, r.tokens.refresh_token, r.tokens.access_token) for r in results}) == 1
    assert AuthSession.objects.get(pk=issued.session_id).refresh_generation == 1


def test_eviction_rate_limits_rehydration_and_activity_flush(on_cluster, user, settings):
    clients = [signed_in(user, ua=f"device {i}") for i in range(5)]
    for i, (c, _) in enumerate(clients):
        if i != 0:
            assert validate_status(c)[0] == 200
    sixth, _ = signed_in(user, ua="device 5")
    assert validate_status(clients[0][0]) == (401, "session_revoked")
    assert AuthSession.objects.get(pk=clients[0][1].session_id).revoke_reason == RevokeReason.EVICTED
    assert AuthSession.objects.filter(user=user, state=SessionState.ACTIVE).count() == 5
    # A cluster-wide flush logs nobody out: the next request rehydrates from SQL.
    on_cluster.flush_all()
    assert validate_status(sixth) == (200, "")
    evicted = Client()  # the 401 above cleared the first client's cookies; present the token again
    evicted.cookies[SESSION_COOKIE] = clients[0][1].session_token
    assert validate_status(evicted) == (401, "session_revoked")
    # flush_activity SCANs every master.
    AuthSession.objects.filter(user=user).update(last_active_at=AuthSession.objects.get(pk=clients[0][1].session_id).created_at)
    for c, _ in clients[1:]:
        validate_status(c)
    out = StringIO()
    call_command("flush_activity", "--json", stdout=out)
    assert json.loads(out.getvalue())["sessions_updated"] >= 4
    # The rate-limit counters live in the cluster too (django-redis through the cluster factory).
    settings.AUTHSITE = {**settings.AUTHSITE, "RATE_REFRESH": "1/m"}
    assert sixth.post("/auth/refresh").status_code == 200
    limited = sixth.post("/auth/refresh")
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1


@pytest.mark.asyncio
async def test_revoke_fans_out_to_the_hub_with_the_store_on_the_cluster(on_cluster, user):
    from tests.realtime.helpers import open_hub

    issued = await sync_to_async(session_create)(user=user, ip="127.0.0.1", user_agent="t")
    hub = await open_hub(issued.access_token)
    try:
        row = await AuthSession.objects.aget(pk=issued.session_id)
        await sync_to_async(session_revoke)(session=row, reason=RevokeReason.ADMIN)
        revoked = await hub.call("sessionRevoked", timeout=2)
        assert revoked["arguments"] == [{"reason": "admin"}]
        close = await hub.next(lambda m: m.get("type") == 7, timeout=2)
        assert close.get("allowReconnect") is not True
    finally:
        await hub.disconnect()
