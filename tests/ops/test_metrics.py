"""/metrics: Prometheus exposition, access control, and counters that move with what happens."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from sessions_core import security_log

from ops import metrics
from sessions_core.conf import REFRESH_COOKIE
from sessions_core.models import AuthSession, RevokeReason
from sessions_core.services import session_revoke

from .helpers import signed_in

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client: Client | None = None, **extra: str) -> dict[str, float]:
    resp = (client or Client()).get("/metrics", **extra)
    assert resp.status_code == 200, resp.content
    assert resp["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(resp.content.decode()):
        for s in family.samples:
            key = s.name + ("{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}" if s.labels else "")
            samples[key] = s.value
    return samples


def test_scrape_from_loopback_and_with_the_token_only(settings):
    assert Client().get("/metrics").status_code == 200  # REMOTE_ADDR 127.0.0.1
    outside = Client(REMOTE_ADDR="203.0.113.7")
    assert outside.get("/metrics").status_code == 403
    # Through a proxy on the same host, the loopback address proves nothing.
    assert Client().get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 403
    assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 403  # no token configured
    settings.AUTHSITE = {**settings.AUTHSITE, "METRICS_TOKEN": "scrape-token-123"}
    assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123").status_code == 200
    assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-124").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert Client().post("/metrics").status_code == 405
    om = Client().get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert om["Content-Type"].startswith("application/openmetrics-text") and om.content.endswith(b"# EOF\n")


def test_counters_and_histograms_follow_the_session_lifecycle(user, settings):
    before = {
        "created": value("authsite_sessions_created_total"),
        "rotated": value("authsite_refreshes_total", outcome="rotated"),
        "grace": value("authsite_refreshes_total", outcome="grace"),
        "logout": value("authsite_revocations_total", reason="logout"),
        "evicted": value("authsite_revocations_total", reason="evicted"),
        "validate": value("authsite_validate_seconds_count"),
        "refresh": value("authsite_refresh_seconds_count"),
        "invalid": value("authsite_refresh_failures_total", code="refresh_invalid"),
        "signin_ok": value("authsite_signins_total", outcome="succeeded"),
        "signin_failed": value("authsite_signins_total", outcome="failed"),
        "limited": value("authsite_ratelimit_hits_total", group="auth.refresh"),
    }
    client, issued = signed_in(user)
    assert client.post("/auth/validate").status_code == 200
    assert client.post("/auth/refresh").status_code == 200
    sibling = Client()
    sibling.cookies[REFRESH_COOKIE] = issued.refresh_token
    assert sibling.post("/auth/refresh").status_code == 200  # grace-window replay
    bogus = Client()
    bogus.cookies[REFRESH_COOKIE] = issued.refresh_token[:-4] + "AAAA"
    assert bogus.post("/auth/refresh").status_code == 401
    for i in range(5):  # five more sessions: the first one is evicted
        signed_in(user, ua=f"device {i}")
    session_revoke(session=AuthSession.objects.filter(user=user, state="active").first(), reason=RevokeReason.LOGOUT)
    security_log.event("signin.completed", user_id=user.pk)
    security_log.event("signin.failed", error="provider_error")
    settings.AUTHSITE = {**settings.AUTHSITE, "RATE_REFRESH": "1/m"}
    other, _ = signed_in(user)
    assert other.post("/auth/refresh").status_code == 200
    assert other.post("/auth/refresh").status_code == 429

    assert value("authsite_sessions_created_total") - before["created"] == 7
    assert value("authsite_refreshes_total", outcome="rotated") - before["rotated"] == 2
    assert value("authsite_refreshes_total", outcome="grace") - before["grace"] == 1
    assert value("authsite_refresh_failures_total", code="refresh_invalid") - before["invalid"] == 1
    assert value("authsite_revocations_total", reason="evicted") - before["evicted"] == 1
    assert value("authsite_revocations_total", reason="logout") - before["logout"] == 1
    assert value("authsite_validate_seconds_count") - before["validate"] >= 1
    assert value("authsite_refresh_seconds_count") - before["refresh"] == 4
    assert value("authsite_signins_total", outcome="succeeded") - before["signin_ok"] == 1
    assert value("authsite_signins_total", outcome="failed") - before["signin_failed"] == 1
    assert value("authsite_ratelimit_hits_total", group="auth.refresh") - before["limited"] == 1

    samples = scrape()
    live = AuthSession.objects.filter(state="active").count()
    assert samples["authsite_active_sessions"] == live == 5
    assert "authsite_hub_connections" in samples
    assert samples["authsite_refreshes_total{outcome=grace}"] >= 1


def test_reuse_detection_is_counted_by_cause(user):
    before = value("authsite_refresh_reuse_detections_total", cause="ancestor_replay")
    client, issued = signed_in(user)
    assert client.post("/auth/refresh").status_code == 200
    assert client.post("/auth/refresh").status_code == 200
    old = Client()
    old.cookies[REFRESH_COOKIE] = issued.refresh_token  # two generations back: never graced
    assert old.post("/auth/refresh").json()["error"] == "refresh_reused"
    assert value("authsite_refresh_reuse_detections_total", cause="ancestor_replay") - before == 1


def test_hub_connection_gauge_is_shared_with_the_realtime_app():
    start = metrics.HUB_CONNECTIONS._value.get()
    metrics.HUB_CONNECTIONS.inc()
    assert scrape()["authsite_hub_connections"] == start + 1
    metrics.HUB_CONNECTIONS.dec()


def test_multiprocess_mode_aggregates_every_worker(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, one worker's /metrics reports the sum of all workers."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "authsite.settings"}
    bump = (
        "import django; django.setup(); from ops import metrics; "
        "metrics.REFRESHES.labels(outcome='rotated').inc(3); metrics.HUB_CONNECTIONS.inc(2)"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", bump], cwd=ROOT, env=env, check=True, timeout=60)
    read = (
        "import django; django.setup(); from prometheus_client import generate_latest; "
        "from ops import metrics; print(generate_latest(metrics.registry()).decode())"
    )
    out = subprocess.run([sys.executable, "-c", read], cwd=ROOT, env=env, check=True, timeout=60, capture_output=True, text=True)
    assert 'authsite_refreshes_total{outcome="rotated"} 6.0' in out.stdout
    # Dead processes' connections do not count (livesum).
    assert "authsite_hub_connections 0.0" in out.stdout


def test_a_recovered_lost_answer_is_its_own_series_not_a_reuse_detection(user):
    from datetime import timedelta

    from django.utils import timezone

    recovered = value("authsite_refreshes_total", outcome="lost_answer_recovered")
    detections = sum(value("authsite_refresh_reuse_detections_total", cause=c) for c in ("replay_outside_window",))
    client, issued = signed_in(user)
    assert client.post("/auth/refresh").status_code == 200  # its answer is "lost": the old token is kept
    past = timezone.now() - timedelta(seconds=30)
    AuthSession.objects.filter(pk=issued.session_id).update(refresh_rotated_at=past)
    from sessions_core.store import keys as redis_keys
    from sessions_core.store.client import get_redis

    get_redis().hset(redis_keys.session(user.pk, issued.session_id), "rot", int(past.timestamp() * 1000))
    stale = Client()
    stale.cookies[REFRESH_COOKIE] = issued.refresh_token
    assert stale.post("/auth/refresh").status_code == 200
    assert value("authsite_refreshes_total", outcome="lost_answer_recovered") == recovered + 1
    assert value("authsite_refresh_reuse_detections_total", cause="replay_outside_window") == detections
    assert scrape()['authsite_refreshes_total{outcome=lost_answer_recovered}'] >= 1
