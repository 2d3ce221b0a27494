"""A real daphne serving the site in a subprocess, on the test's database and Redis prefix."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from django.conf import settings
from django.db import connection

from sessions_core.conf import auth_settings
from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        name = str(db["NAME"])
        if not name or name == ":memory:" or name.startswith("file:memorydb"):
            pytest.fail("A daphne subprocess needs a file SQLite test database: set TEST_DATABASE_NAME=/tmp/x.sqlite3")
        return f"sqlite:///{name}"
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"TEST_DATABASE_NAME", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        DJANGO_SETTINGS_MODULE="authsite.settings",
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        SECRET_KEY=settings.SECRET_KEY,
        AUTHSITE_REDIS_KEY_PREFIX=str(auth_settings.REDIS_KEY_PREFIX),
        DEBUG="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Daphne:
    """``daphne authsite.asgi:application`` on a free loopback port; restartable on the same port."""

    #: The ASGI application daphne serves (a subclass may wrap the site).
    app = "authsite.asgi:application"

    def __init__(self, **env: str) -> None:
        self.port = free_port()
        self.env = child_env(**env)
        self.log = Path(tempfile.mkstemp(prefix="authsite-daphne-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Daphne":
        return self.launch().wait_ready()

    def launch(self) -> "Daphne":
        """Start the process without waiting for it to serve (see :meth:`wait_ready`)."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), self.app],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self) -> "Daphne":
        assert self.proc is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError(f"daphne did not come up:\n{self.tail()}")

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (the worker drains, see realtime/drain.py), SIGKILL after ``timeout`` seconds."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        self.stop()
        self.log.unlink(missing_ok=True)


class Browserless:
    """An HTTP client holding a signed-in browser's cookies (CSRF token from the landing page).

    Cookies go in an explicit header: the site's cookies are ``Secure`` and these
    requests are plain-HTTP loopback, where a cookie jar would withhold them.
    """

    def __init__(self, base: str, session_token: str, refresh_token: str = "") -> None:
        from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE

        self.base = base
        landing = requests.get(f"{base}/", timeout=5)
        landing.raise_for_status()
        self.csrf = landing.cookies.get("csrftoken") or ""
        assert self.csrf, "the landing page must set csrftoken"
        jar = {"csrftoken": self.csrf, SESSION_COOKIE: session_token}
        if refresh_token:
            jar[REFRESH_COOKIE] = refresh_token
        self.cookie = "; ".join(f"{k}={v}" for k, v in jar.items())

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        headers = {"X-CSRFToken": self.csrf, "Cookie": self.cookie}
        return requests.post(f"{self.base}{path}", headers=headers, timeout=5, **kwargs)
