"""The official @microsoft/signalr client (Node) against real daphne workers.

Each test starts daphne with the settings its scenario needs, then runs one
file of ``tests/node`` with ``node --test``, handing it the server URL and the
cookies of signed-in sessions in the environment.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sessions_core.services import session_create
from tests.realtime.live import ROOT, Daphne

pytestmark = [pytest.mark.node, pytest.mark.django_db(transaction=True)]
NODE_TESTS = ROOT / "tests" / "node"


def node_command(test_file: str) -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is required for the hub's client tests (node on PATH)")
    if not (ROOT / "node_modules" / "@microsoft" / "signalr" / "package.json").exists():
        pytest.fail("@microsoft/signalr is not installed: run `npm ci --no-audit --no-fund` at the repository root")
    return [node, "--test", str(NODE_TESTS / test_file)]


def run_node(test_file: str, env: dict[str, str], servers: list[Daphne],
             on_poll: Callable[[], None] | None = None, timeout: float = 120) -> None:
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(node_command(test_file), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        try:
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    break
                if on_poll is not None:
                    on_poll()
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        output = out.read()
    logs = "\n".join(f"--- daphne :{s.port}\n{s.tail()}" for s in servers)
    assert proc.returncode == 0, f"node --test {test_file} failed ({proc.returncode}):\n{output}\n{logs}"


@pytest.fixture
def sessions(user: Any, bob: Any) -> dict[str, str]:
    alice = session_create(user=user, ip="127.0.0.1", user_agent="node alice")
    doomed = session_create(user=user, ip="127.0.0.1", user_agent="node doomed")
    bobs = session_create(user=bob, ip="127.0.0.1", user_agent="node bob")
    return {
        "ALICE_SESSION": alice.session_token, "ALICE_USER_ID": str(user.pk),
        "DOOMED_SESSION": doomed.session_token,
        "BOB_SESSION": bobs.session_token, "BOB_USER_ID": str(bob.pk),
    }


@pytest.fixture
def daphne_factory(sessions: dict[str, str]) -> Iterator[Callable[..., Daphne]]:
    started: list[Daphne] = []

    def make(**env: str) -> Daphne:
        server = Daphne(**env)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.close()


def test_official_client_connects_invokes_receives_renews_and_is_revoked(
    sessions: dict[str, str], daphne_factory: Callable[..., Daphne]
) -> None:
    server = daphne_factory()
    run_node("hub.test.mjs", {**server.env, **sessions, "HUB_BASE_URL": server.url}, [server])


def test_official_client_expiry_close_reconnect_and_renewal(
    sessions: dict[str, str], daphne_factory: Callable[..., Daphne]
) -> None:
    ttl = "4"
    server = daphne_factory(AUTHSITE_ACCESS_TOKEN_TTL_SECONDS=ttl, AUTHSITE_HUB_TOKEN_EXPIRING_SECONDS="2")
    env = {**server.env, **sessions, "HUB_BASE_URL": server.url, "ACCESS_TTL_SECONDS": ttl}
    run_node("hub_expiry.test.mjs", env, [server])


def test_official_client_reconnects_after_server_restart(
    sessions: dict[str, str], daphne_factory: Callable[..., Daphne]
) -> None:
    server = daphne_factory()
    signals = Path(tempfile.mkdtemp(prefix="authsite-signals-"))

    def restart_when_asked() -> None:
        if (signals / "restart").exists() and not (signals / "restarted").exists():
            server.stop()
            # While it is down the client is reconnecting; then it comes back.
            server.start()
            (signals / "restarted").touch()

    try:
        env = {**server.env, **sessions, "HUB_BASE_URL": server.url, "SIGNAL_DIR": str(signals)}
        run_node("hub_restart.test.mjs", env, [server], on_poll=restart_when_asked)
    finally:
        shutil.rmtree(signals, ignore_errors=True)
