"""`make run` from a fresh checkout: the site as scripts/run.sh starts it, driven over real HTTP.

scripts/run.sh migrates a new file SQLite database, collects static files and
execs daphne with DEBUG on; GET /, the built-in fake Discord page and the
callback landing must reach the app page showing the user.
"""
from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings as dj_settings

from tests.signin.conftest import LoopbackBrowser
from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def prefix() -> str:
    """The Redis key prefix of the site under test (a manage.py acting on it needs the same)."""
    return f"mr{uuid.uuid4().hex[:8]}"


@pytest.fixture
def site(tmp_path: Path, prefix: str) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "PLAYFAB_", "DEBUG", "DATABASE_URL"))}
    env.update(
        PORT=str(port), HOST="127.0.0.1", DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL=dj_settings.REDIS_URL,
        AUTHSITE_REDIS_KEY_PREFIX=prefix,
        # The run records its Redis (and metrics directory) here, not in the checkout's .run/.
        AUTHSITE_RUN_DIR=str(tmp_path / "run"),
    )
    log = (tmp_path / "site.log").open("wb")
    proc = subprocess.Popen([str(ROOT / "scripts" / "run.sh")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "site.log").read_text()
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)  # waiting for a subprocess to bind its port
        else:
            pytest.fail("the site did not start:\n" + (tmp_path / "site.log").read_text())
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _hidden_fields(page: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}


def test_make_run_sign_in_reaches_the_app_page(site: str) -> None:
    sign_in_as_newcomer(site)


def sign_in_as_newcomer(site: str) -> LoopbackBrowser:
    """Sign in through the fake Discord as a player would; the browser holding the session."""
    b = LoopbackBrowser()
    landing = b.get(f"{site}/", timeout=10)
    assert landing.status_code == 200
    login = html.unescape(re.search(r'id="signin" href="([^"]+)"', landing.text).group(1))
    for asset in ("/static/css/site.css", "/static/js/landing.js", "/static/js/app.js"):
        assert b.get(f"{site}{asset}", timeout=10).status_code == 200, asset

    to_discord = b.get(f"{site}{login}", allow_redirects=False, timeout=10)
    assert to_discord.status_code == 302 and to_discord.headers["Location"].startswith(f"{site}/_dev/discord/oauth2/authorize?")
    form = b.get(to_discord.headers["Location"], timeout=10)
    assert form.status_code == 200 and 'name="username"' in form.text
    fields = {**_hidden_fields(form.text), "username": "newcomer", "action": "authorize"}
    back = b.post(form.url, data=fields, allow_redirects=False, timeout=10, headers={"Origin": site, "Referer": form.url})
    assert back.status_code == 302 and back.headers["Location"].startswith(f"{site}/auth/discord/callback?")

    # The callback calls the fakes on this same server over HTTP: it must not deadlock.
    done = b.get(back.headers["Location"], allow_redirects=False, timeout=20)
    assert done.status_code == 200, done.text
    next_path = json.loads(re.search(r'id="authsite-next" type="application/json">(.*?)</script>', done.text).group(1))
    assert next_path == "/app"

    app = b.get(f"{site}{next_path}", timeout=10)
    assert app.status_code == 200 and 'data-page="app"' in app.text
    assert "newcomer" in app.text and "This device" in app.text
    # Players never see their PlayFab id; the server keeps it.
    assert "playfab" not in app.text.lower()
    check = b.post(f"{site}/auth/validate", headers={"X-CSRFToken": b.cookies["csrftoken"], "Origin": site}, timeout=10)
    assert check.status_code == 200 and check.json()["user"]["display_name"] == "newcomer"
    assert re.fullmatch(r"[0-9A-Fa-f]{16}", check.json()["user"]["playfab_id"])
    return b


def test_readme_quick_start_make_run_sign_in_then_manage_py_acts_on_that_site(
    site: str, tmp_path: Path, prefix: str
) -> None:
    """README: `make run`, sign in, then a manage.py command from a second terminal (no REDIS_URL set)."""
    b = sign_in_as_newcomer(site)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", AUTHSITE_RUN_DIR=str(tmp_path / "run"),
               AUTHSITE_REDIS_KEY_PREFIX=prefix)
    assert (tmp_path / "run" / "redis.url").read_text().strip() == dj_settings.REDIS_URL
    proc = subprocess.run(
        [sys.executable, "manage.py", "revoke_sessions", "--user", "newcomer"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("Revoked 1 session of newcomer ("), proc.stdout
    check = b.post(f"{site}/auth/validate", headers={"X-CSRFToken": b.cookies["csrftoken"], "Origin": site}, timeout=10)
    assert check.status_code == 401 and check.json()["reason"] == "admin"
    metrics = b.get(f"{site}/metrics", timeout=10).text
    assert 'authsite_revocations_total{reason="admin"} 1.0' in metrics


def test_fakes_are_absent_in_a_process_started_with_debug_off(tmp_path: Path) -> None:
    """Settings as a deployment loads them (DEBUG=0 in the environment, no Discord credentials)."""
    code = (
        "import django; django.setup(); from django.test import Client; from django.urls import Resolver404, resolve\n"
        "paths = ('/_dev/discord/oauth2/authorize', '/_dev/discord/api/oauth2/token', '/_dev/discord/api/users/@me',"
        " '/_dev/playfab/Server/LoginWithServerCustomId')\n"
        "def routed(p):\n"
        "    try:\n        resolve(p)\n        return True\n    except Resolver404:\n        return False\n"
        "print([(routed(p), Client(HTTP_HOST='127.0.0.1').get(p).status_code) for p in paths])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DEBUG", "DATABASE_URL"))}
    env.update(DEBUG="0", DJANGO_SETTINGS_MODULE="authsite.settings", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == str([(False, 404)] * 4)
