"""manage.py acts on the Redis the running site uses, or says it cannot.

`make run` records its private Redis in ``.run/redis.url``; settings read it when
``REDIS_URL`` is unset. A revoke that cannot reach the Redis holding a session
refuses, changes nothing and exits non-zero; ``--user`` takes any name an
operator has at hand.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.management import call_command
from django.core.management.base import CommandError

from sessions_core.models import AuthSession, SessionState, User
from tests.conftest import point_redis_at
from tests.support.redis_server import RedisServer, free_port

from .helpers import signed_in, validate_status

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _env_without_redis(run_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["AUTHSITE_RUN_DIR"] = str(run_dir)
    return env


def _settings_redis_url(env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", "from django.conf import settings; print(settings.REDIS_URL)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def test_manage_py_uses_the_redis_make_run_recorded_unless_redis_url_is_set(tmp_path):
    env = _env_without_redis(tmp_path)
    assert _settings_redis_url(env) == "redis://127.0.0.1:6379/0"
    (tmp_path / "redis.url").write_text("redis://127.0.0.1:45678/0\n")
    assert _settings_redis_url(env) == "redis://127.0.0.1:45678/0"
    assert _settings_redis_url({**env, "REDIS_URL": "redis://127.0.0.1:5555/1"}) == "redis://127.0.0.1:5555/1"


@pytest.fixture
def other_redis() -> Any:
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture
def alice(db: Any) -> User:
    return User.objects.create(username="discord-1001", discord_id="1001", discord_username="alice")


def test_a_revoke_on_a_redis_that_lacks_the_session_refuses_and_changes_nothing(
    settings, private_redis, other_redis, alice
):
    client, issued = signed_in(alice)
    point_redis_at(settings, other_redis.url)  # manage.py run without the site's REDIS_URL
    for args in (["--user", "alice"], ["--session", issued.session_id], ["--all", "--yes"]):
        with pytest.raises(CommandError, match=f"Nothing was revoked: the Redis at redis://127.0.0.1:{other_redis.port}/0"):
            run("revoke_sessions", *args)
    assert AuthSession.objects.get(pk=issued.session_id).state == SessionState.ACTIVE

    point_redis_at(settings, private_redis.url)  # the site's Redis: the same command works
    assert validate_status(client) == (200, "")
    assert run("revoke_sessions", "--user", "alice") == "Revoked 1 session of alice (discord-1001).\n"
    assert validate_status(client) == (401, "session_revoked")


def test_allow_missing_revokes_after_a_flush(settings, private_redis, alice):
    client, issued = signed_in(alice)
    private_redis.client().flushall()
    with pytest.raises(CommandError, match="--allow-missing"):
        run("revoke_sessions", "--user", "1001")
    assert run("revoke_sessions", "--user", "1001", "--allow-missing").startswith("Revoked 1 session ")
    # The flushed session is rebuilt from SQL on its next request: revoked.
    assert validate_status(client) == (401, "session_revoked")


def test_a_revoke_with_redis_unreachable_exits_non_zero_and_changes_nothing(settings, alice):
    _, issued = signed_in(alice)
    point_redis_at(settings, f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(CommandError, match="is unavailable; nothing was revoked"):
        run("revoke_sessions", "--session", issued.session_id)
    assert AuthSession.objects.get(pk=issued.session_id).state == SessionState.ACTIVE


def test_user_is_found_by_display_name_discord_id_user_id_or_account_name(alice):
    User.objects.create(username="discord-2002", discord_id="2002", discord_username="bob")
    for ref in ("alice", "ALICE", "1001", str(alice.pk), "discord-1001"):
        assert run("sessions", "--user", ref, "--json").strip() == "[]", ref
    signed_in(alice, ua="Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0")
    table = run("sessions", "--user", "alice")
    assert "alice (discord-1001)" in table.splitlines()[1]


def test_an_ambiguous_or_unknown_user_is_a_clear_error(alice):
    User.objects.create(username="discord-3003", discord_id="3003", discord_username="Alice")
    with pytest.raises(CommandError, match="Several users are called 'alice': discord-1001 .*discord-3003"):
        run("revoke_sessions", "--user", "alice")
    with pytest.raises(CommandError, match="No user 'nobody'"):
        run("revoke_sessions", "--user", "nobody")
    with pytest.raises(CommandError, match="No user '99999999999999999999999'"):
        run("sessions", "--user", "9" * 23)


def test_run_sh_checks_the_port_first_and_names_the_variable():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1"}
        proc = subprocess.run(["bash", "scripts/run.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"Port {port} on 127.0.0.1 is already in use" in proc.stderr and "PORT=8001" in proc.stderr
    assert "authsite on http" not in proc.stdout  # nothing started, no URL promised


def test_make_stop_stops_the_private_redis_make_run_left(tmp_path):
    env = _env_without_redis(tmp_path)
    url = subprocess.run(
        [sys.executable, "scripts/ensure_redis.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        check=True,
    ).stdout.strip()
    (tmp_path / "redis.url").write_text(url)
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        assert client.ping()
        out = subprocess.run(["bash", "scripts/stop.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "Stopped the private Redis" in out.stdout
        with pytest.raises(redis.ConnectionError):
            for _ in range(100):  # redis-server exits within moments of SIGTERM
                client.ping()
                import time

                time.sleep(0.05)
        assert not (tmp_path / "redis.url").exists()
    finally:
        subprocess.run(["bash", "scripts/stop.sh"], cwd=ROOT, env=env, capture_output=True, timeout=60)

