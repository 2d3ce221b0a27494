"""Security review findings on operations: the admin login is throttled, and the
access log of the start command never records OAuth codes, states or tokens."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from ops.serve import redact_path
from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_login_is_throttled_per_ip(settings: Any) -> None:
    settings.AUTHSITE = {**settings.AUTHSITE, "RATE_ADMIN_LOGIN": "10/m"}
    c = Client()
    codes = [c.post("/admin/login/", {"username": "root", "password": f"guess{n}"}).status_code for n in range(25)]
    assert codes[:10] == [200] * 10  # the form again, "please enter the correct..."
    assert set(codes[10:]) == {429}
    limited = c.post("/admin/login/", {"username": "root", "password": "x"})
    assert int(limited["Retry-After"]) >= 1
    # Reading the form is not limited, and another address has its own budget.
    assert c.get("/admin/login/").status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.8").post("/admin/login/", {"username": "root", "password": "x"}).status_code == 200


@pytest.mark.parametrize(
    "path,expected",
    [
        ("/auth/discord/callback?code=abc&state=xyz", "/auth/discord/callback?code=[redacted]&state=[redacted]"),
        ("/hub?id=tok&access_token=eyJ.a.b", "/hub?id=[redacted]&access_token=[redacted]"),
        ("/app?tab=1", "/app?tab=1"),
        ("/x?CODE=1&&=&state", "/x?CODE=[redacted]&&=&state"),
        ("/plain", "/plain"),
    ],
)
def test_redact_path(path: str, expected: str) -> None:
    assert redact_path(path) == expected


def _dockerfile_cmd() -> list[str]:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            return list(json.loads(line[4:]))
    raise AssertionError("no CMD")


def test_the_start_command_keeps_oauth_codes_and_tokens_out_of_the_access_log(tmp_path: Path, settings: Any) -> None:
    """The image's own start command, run for real: daphne's access log lines carry
    the paths, with the code, state and access token replaced."""
    port = free_port()
    cmd = [sys.executable if part == "python" else part for part in _dockerfile_cmd()]
    cmd = [str(port) if part == "8000" else "127.0.0.1" if part == "0.0.0.0" else part for part in cmd]
    env = {**{k: v for k, v in os.environ.items() if k not in {"TEST_DATABASE_NAME", "DEBUG"}},
           "DEBUG": "0", "DATABASE_URL": f"sqlite:///{tmp_path / 'log.sqlite3'}", "REDIS_URL": settings.REDIS_URL}
    log = tmp_path / "access.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            secrets_sent = ["CODE-s3cret-0123456789", "STATE-s3cret-0123456789abcdefghijklmnop", "AT-s3cret.jwt.value"]
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                    break
                except OSError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)  # waiting for the subprocess to bind
            for url in (f"/auth/discord/callback?code={secrets_sent[0]}&state={secrets_sent[1]}",
                        f"/hub/negotiate?access_token={secrets_sent[2]}"):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{url}", timeout=5)
                except urllib.error.HTTPError:
                    pass  # refused (no such state): what matters is the log line
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    text = log.read_text()
    assert "/auth/discord/callback?code=[redacted]&state=[redacted]" in text, text
    assert "/hub/negotiate?access_token=[redacted]" in text, text
    for secret in secrets_sent:
        assert secret not in text
