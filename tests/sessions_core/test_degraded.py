"""Redis down, site up: sessions served from SQL while the store's breaker is open,
and SQL's changes win when Redis comes back (empty or stale)."""
from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from sessions_core.errors import SessionRevoked
from sessions_core.models import AuthSession, User
from sessions_core.services import authenticate, user_bump_token_version
from sessions_core.store import degraded
from sessions_core.store.breaker import breaker
from sessions_core.views.api import DEGRADED_HEADER

from .helpers import delete, post, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def take_cookies(client: Client, resp: Any) -> None:
    for name in (SESSION_COOKIE, REFRESH_COOKIE):
        if name in resp.cookies and resp.cookies[name].value:
            client.cookies[name] = resp.cookies[name].value


def redis_gone(server: Any) -> None:
    """Stop Redis, keeping a snapshot of its data, so a restart brings back stale data."""
    server.client().save()
    server.stop()


def test_redis_down_every_authenticated_call_keeps_working(user: User, private_redis: Any) -> None:
    client, issued = sign_in(user)
    other, other_issued = sign_in(user, ua="other device")
    assert post(client, "/auth/validate").status_code == 200
    private_redis.stop()

    ready = Client().get("/readyz")
    assert ready.status_code == 200 and ready.json()["degraded"] is True, ready.content
    assert ready.json()["checks"] == {"redis": False, "database": True}
    assert ready[DEGRADED_HEADER] == "true"
    assert breaker.degraded

    resp = post(client, "/auth/validate")
    assert resp.status_code == 200, resp.content
    assert resp.json()["session"]["id"] == issued.session_id
    assert resp.json()["user"]["display_name"] == "Alice"
    assert SESSION_COOKIE not in resp.cookies

    resp = post(client, "/auth/refresh")
    assert resp.status_code == 200, resp.content
    assert resp.json()["refreshed"] is True
    take_cookies(client, resp)
    row = AuthSession.objects.get(pk=issued.session_id)
    assert row.refresh_generation == 1
    # The rotated credentials work at once, and the predecessor's replay gets the same answer (grace).
    assert post(client, "/auth/validate").status_code == 200
    token = post(client, "/auth/token")
    assert token.status_code == 200 and token.json()["access_token"]
    assert post(client, "/auth/activity").status_code == 200

    listing = client.get("/auth/sessions")
    assert listing.status_code == 200
    assert {s["id"] for s in listing.json()["sessions"]} == {issued.session_id, other_issued.session_id}

    # Ending the other device from this one, then signing this one out: both stand in SQL at once.
    assert delete(client, f"/auth/sessions/{other_issued.session_id}").status_code == 200
    gone = post(other, "/auth/validate")
    assert gone.status_code == 401 and gone.json()["error"] == "session_revoked"
    out = post(client, "/auth/logout")
    assert out.status_code == 200
    assert AuthSession.objects.get(pk=issued.session_id).state == "revoked"
    assert post(client, "/auth/validate").status_code == 401


def test_logout_all_and_token_version_bump_while_degraded(user: User, private_redis: Any) -> None:
    a, _ = sign_in(user)
    b, _ = sign_in(user, ua="b")
    private_redis.stop()
    resp = post(a, "/auth/logout-all")
    assert resp.status_code == 200 and resp.json()["ended"] == 2
    assert post(b, "/auth/validate").json()["error"] == "session_revoked"

    c, issued = sign_in(user, ua="c")  # signs in from SQL alone (the session reaches Redis on a miss)
    assert post(c, "/auth/validate").status_code == 200
    old_tv = user.token_version
    user_bump_token_version(user=user)
    resp = post(c, "/auth/validate")
    assert resp.status_code == 401 and resp.json()["error"] == "session_revoked"
    with pytest.raises(SessionRevoked):
        async_check(user.pk, issued.session_id, old_tv)


def async_check(uid: int, sid: str, tv: int) -> None:
    from asgiref.sync import async_to_sync

    async_to_sync(authenticate.check_access_of)(uid=uid, sid=sid, jti="x", tv=tv)


def test_hub_access_check_from_sql_refuses_revoked_sessions_and_old_token_versions(
    user: User, private_redis: Any
) -> None:
    _, issued = sign_in(user)
    private_redis.stop()
    async_check(user.pk, issued.session_id, user.token_version)  # live: passes from SQL
    User.objects.filter(pk=user.pk).update(token_version=user.token_version + 1)
    degraded.clear()
    with pytest.raises(SessionRevoked) as e:
        async_check(user.pk, issued.session_id, user.token_version)
    assert e.value.reason == "token_version"


def test_degraded_gauge_on_metrics(user: User, private_redis: Any) -> None:
    import ops.metrics  # noqa: F401  (registers the gauge and its listener)

    def gauge() -> str:
        text = Client().get("/metrics").content.decode()
        return next(line for line in text.splitlines() if line.startswith("authsite_store_degraded "))

    assert gauge().endswith(" 0.0")
    private_redis.stop()
    Client().get("/readyz")
    assert gauge().endswith(" 1.0")
    private_redis.start()
    breaker.probe()
    assert gauge().endswith(" 0.0")


def test_rate_limits_fall_back_to_this_worker(
    user: User, private_redis: Any, settings: Any, monkeypatch: Any
) -> None:
    from sessions_core import ratelimits

    settings.AUTHSITE = {**settings.AUTHSITE, "RATE_TOKEN": "2/m"}
    monkeypatch.setattr(ratelimits.local, "clock", lambda: 1_800_000_010.0)  # mid-window, fixed
    client, _ = sign_in(user)
    private_redis.stop()
    assert post(client, "/auth/token").status_code == 200
    assert post(client, "/auth/token").status_code == 200
    resp = post(client, "/auth/token")
    assert resp.status_code == 429 and resp["Retry-After"] == "50"


def test_sql_query_budget_per_authenticated_request(
    user: User, private_redis: Any, monkeypatch: Any
) -> None:
    """The documented budget: one query per session per cache TTL per worker, plus one
    activity UPDATE per session per flush interval; a warm request costs none."""
    client, _ = sign_in(user)
    private_redis.stop()
    post(client, "/auth/activity")  # trips the breaker, warms the cache, flushes activity
    clock = [1000.0]
    monkeypatch.setattr(degraded, "clock", lambda: clock[0])
    degraded.clear()

    with CaptureQueriesContext(connection) as cold:
        assert post(client, "/auth/activity").status_code == 200
    assert len(cold) == 2, [q["sql"] for q in cold]  # the row (with its user), the activity flush

    with CaptureQueriesContext(connection) as warm:
        for _ in range(20):
            assert post(client, "/auth/validate").status_code == 200
            assert client.get("/auth/sessions").status_code == 200
    # /auth/sessions lists the user's sessions (its own one query); validate costs none.
    assert len(warm) == 20, [q["sql"] for q in warm]

    clock[0] += 2.5  # past STORE_DEGRADED_CACHE_TTL, within the flush interval
    with CaptureQueriesContext(connection) as expired:
        assert post(client, "/auth/validate").status_code == 200
    assert len(expired) == 1


def test_sql_query_budget_of_a_refresh_while_degraded(user: User, private_redis: Any) -> None:
    """A rotation costs the same SQL as with Redis up (the row, the conditional UPDATE in its
    transaction, the authenticating read): the Redis writes are simply left to the recovery."""
    client, _ = sign_in(user)
    private_redis.stop()
    post(client, "/auth/validate")  # trips the breaker
    with CaptureQueriesContext(connection) as seen:
        resp = post(client, "/auth/refresh")
    assert resp.status_code == 200
    kinds = [q["sql"].split()[0].upper() for q in seen]
    # The session row, then the conditional UPDATE (SQLite also logs BEGIN/COMMIT; the
    # authenticating read is a cache hit here: the validate above read the row).
    assert [k for k in kinds if k not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")] == ["SELECT", "UPDATE"], kinds


def test_another_workers_revoke_wins_within_the_cache_ttl(user: User, private_redis: Any, monkeypatch: Any) -> None:
    """The bound the README states: a revoke this worker did not make itself (another worker's,
    written to SQL only) is refused here once the cached row is older than the TTL (2 s)."""
    client, issued = sign_in(user)
    clock = [500.0]
    monkeypatch.setattr(degraded, "clock", lambda: clock[0])
    private_redis.stop()
    assert post(client, "/auth/validate").status_code == 200  # reads and caches the row
    # Another worker revokes: SQL changes, this worker's cache is not told.
    AuthSession.objects.filter(pk=issued.session_id).update(state="revoked", revoke_reason="admin")
    clock[0] += 1.9
    assert post(client, "/auth/validate").status_code == 200  # inside the TTL: the documented window
    clock[0] += 0.2
    resp = post(client, "/auth/validate")
    assert resp.status_code == 401 and resp.json()["error"] == "session_revoked"
