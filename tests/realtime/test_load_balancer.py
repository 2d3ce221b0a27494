"""Three daphne workers behind the shipped HAProxy config, restarted one by one under load.

What a user sees on a deploy: their realtime connection moves to another worker
(a SignalR close that allows reconnect, then a reconnect through the balancer),
nobody is signed out, and presence is exactly right afterwards.
``AUTHSITE_LB_CLIENTS`` sets how many clients (default 200 in `make test`; the benchmark runs 500).
"""
from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sessions_core.models import User
from sessions_core.services import session_create
from tests.realtime.live import Daphne
from tests.support.haproxy import HAProxy
from tests.support.hub_swarm import Client, Swarm

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.multiworker]
CLIENTS = int(os.environ.get("AUTHSITE_LB_CLIENTS", "200"))
PER_SESSION = 5


@pytest.fixture
def cluster() -> Iterator[tuple[list[Daphne], HAProxy]]:
    workers = [Daphne() for _ in range(3)]
    lb = HAProxy([w.port for w in workers])
    try:
        for w in workers:
            w.launch()
        for w in workers:
            w.wait_ready()
        lb.start()
        for i in range(1, 4):
            lb.wait_state(f"w{i}", "UP")
        yield workers, lb
    finally:
        lb.stop()
        for w in workers:
            w.close()


def make_clients(count: int) -> list[Client]:
    clients: list[Client] = []
    for n in range(-(-count // PER_SESSION)):
        user = User.objects.create(username=f"lb{n}", discord_id=str(700000 + n), discord_username=f"LB {n}")
        issued = session_create(user=user, ip="127.0.0.1", user_agent="swarm")
        clients += [Client(issued.access_token, user.pk, issued.session_id) for _ in range(PER_SESSION)]
    return clients[:count]


def test_rolling_restart_moves_every_client_and_signs_nobody_out(cluster: Any) -> None:
    from realtime import presence

    workers, lb = cluster
    clients = make_clients(CLIENTS)
    t0 = time.monotonic()
    swarm = Swarm(f"{lb.ws_url}/hub", clients).start()
    try:
        swarm.wait(lambda: swarm.connected() == len(clients), 90, "initial connections")
        assert requests.get(f"{lb.url}/readyz", headers={"Host": "localhost"}, timeout=5).status_code == 200
        print(f"{len(clients)} connected in {time.monotonic() - t0:.1f}s")
        moved = 0
        for i, worker in enumerate(workers, 1):
            held = lb.current_sessions()[f"w{i}"]
            drained_before = sum(c.drained for c in clients)
            started = time.monotonic()
            worker.stop(timeout=20)  # SIGTERM: drain, then exit
            stop_took = time.monotonic() - started
            log = "\n".join(ln for ln in worker.log.read_text().splitlines() if "/hub" not in ln)
            assert stop_took < 15 and "drain: done" in log, f"w{i} took {stop_took:.1f}s to drain\n{log}"
            swarm.wait(lambda: swarm.connected() == len(clients), 60, f"reconnect after stopping w{i}")
            moved += sum(c.drained for c in clients) - drained_before
            assert sum(c.drained for c in clients) - drained_before >= held - 2, (held, swarm.summary())
            print(f"w{i}: drained {held} in {stop_took:.1f}s, all back at {time.monotonic() - t0:.1f}s")
            worker.start()
            lb.wait_state(f"w{i}", "UP")
        summary = swarm.summary()
    finally:
        swarm.stop()
    assert summary["signed_out"] == 0, summary
    assert summary["connected"] == len(clients), summary
    # Every move was announced: a close allowing reconnect, never a dropped socket.
    assert moved >= len(clients), summary
    assert summary["drops"] == 0 and summary["refusals"].get(403, 0) == 0, summary

    # Presence: every user online, exactly their open connections recorded (the
    # drained workers unregistered theirs; a killed worker's would linger for a lease).
    async def state() -> tuple[set[int], dict[int, int]]:
        online = {int(u["userId"]) for u in await presence.online_users()}
        counts = {uid: len(await presence.connections_of(uid)) for uid in {c.uid for c in clients}}
        return online, counts

    online, counts = asyncio.run(state())
    assert online == {c.uid for c in clients}
    assert counts == {uid: sum(1 for c in clients if c.uid == uid) for uid in counts}, counts
