"""/metrics counts what every process of the site did, from its first scrape.

A revocation made with ``manage.py`` (another process) shows in the site's
/metrics; labelled counters exist at zero before their first event; no
``*_created`` series.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from sessions_core.models import RevokeReason

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]

SCRAPE = (
    "import django; django.setup(); from django.test import Client; "
    "r = Client().get('/metrics'); assert r.status_code == 200, r.content; print(r.content.decode())"
)


def _samples(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[s.name + ("{" + labels + "}" if labels else "")] = s.value
    return out


def test_labelled_counters_start_at_zero_and_there_is_no_created_series():
    text = Client().get("/metrics").content.decode()
    samples = _samples(text)
    for reason in RevokeReason:
        assert f"authsite_revocations_total{{reason={reason.value}}}" in samples
    for key in ("authsite_signins_total{outcome=failed}", "authsite_refreshes_total{outcome=grace}",
                "authsite_refresh_reuse_detections_total{cause=ancestor_replay}",
                "authsite_ratelimit_hits_total{group=auth.login}", "authsite_hub_refused_total{reason=token_invalid}"):
        assert key in samples, key
    assert not [name for name in samples if name.split("{")[0].endswith("_created")]


def test_a_revocation_made_with_manage_py_shows_in_the_sites_metrics(tmp_path):
    """As with `make run`: the run dir records the Redis and holds the metrics directory;
    manage.py run without REDIS_URL acts on that site and counts into its metrics."""
    run_dir = tmp_path / "run"
    (run_dir / "prometheus").mkdir(parents=True)
    (run_dir / "redis.url").write_text(os.environ["REDIS_URL"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "TEST_DATABASE_NAME")}
    env.update({
        "AUTHSITE_RUN_DIR": str(run_dir), "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}",
        "AUTHSITE_REDIS_KEY_PREFIX": f"t{uuid.uuid4().hex[:10]}", "ALLOWED_HOSTS": "testserver", "DEBUG": "1",
    })

    def manage(*args: str) -> str:
        proc = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    def site_scrape() -> dict[str, float]:
        proc = subprocess.run([sys.executable, "-c", SCRAPE], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        return _samples(proc.stdout)

    manage("migrate", "--noinput", "-v", "0")
    before = site_scrape()["authsite_revocations_total{reason=admin}"]
    issued = json.loads(manage("issue_session", "alice", "--json"))
    manage("revoke_sessions", "--session", issued["session_id"])
    assert site_scrape()["authsite_revocations_total{reason=admin}"] == before + 1
    assert any(p.name.startswith("counter_") for p in (run_dir / "prometheus").iterdir())
