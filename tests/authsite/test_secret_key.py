"""A production server never starts on a missing, weak or public SECRET_KEY."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from authsite.secret_key import DEV_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]


def manage_check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DEBUG", "SECRET_KEY", "DATABASE_URL", "TEST_DATABASE"))}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**base, "DATABASE_URL": f"sqlite:///{tmp_path / 'k.sqlite3'}", **env},
    )


@pytest.mark.parametrize(
    "env,why",
    [
        ({}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": DEV_SECRET_KEY}, "known development default"),
        ({"SECRET_KEY": "django-insecure-" + secrets.token_urlsafe(50)}, "known development default"),
        ({"SECRET_KEY": secrets.token_urlsafe(20)}, "shorter than 50 characters"),
        ({"SECRET_KEY": "abcd" * 20}, "fewer than 5 distinct characters"),
        ({"SECRET_KEY": secrets.token_urlsafe(50), "SECRET_KEY_FALLBACKS": DEV_SECRET_KEY}, "SECRET_KEY_FALLBACKS"),
    ],
    ids=["missing", "empty", "dev-key", "django-insecure", "short", "low-entropy", "weak-fallback"],
)
def test_debug_off_refuses_to_start_without_a_strong_private_key(tmp_path, env, why):
    proc = manage_check(tmp_path, DEBUG="0", **env)
    assert proc.returncode != 0
    assert "ImproperlyConfigured: Refusing to start with DEBUG off" in proc.stderr
    assert why in proc.stderr
    assert "SECRET_KEY to 50+ random characters" in proc.stderr


def test_debug_off_with_a_strong_key_starts(tmp_path):
    proc = manage_check(tmp_path, DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50))
    assert proc.returncode == 0, proc.stderr
    assert "System check identified no issues" in proc.stdout


def test_debug_on_still_runs_on_the_development_key(tmp_path):
    """`make run` (DEBUG on, no SECRET_KEY) keeps working."""
    proc = manage_check(tmp_path, DEBUG="1")
    assert proc.returncode == 0, proc.stderr
