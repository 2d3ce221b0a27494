"""The hub at scale: three daphne workers behind the shipped HAProxy config, a private Redis.

Prints, from one run:
1. idle connections held by ONE worker (direct, no balancer) and its RSS per connection;
2. a storm of clients all connecting at once through HAProxy: time until all are
   connected, refusals by HTTP status, failed attempts;
3. a rolling restart under load (each worker SIGTERMed in turn, drains, restarts):
   clients moved, signed out, refusals, longest reconnect;
4. revoke-to-close across the three workers: sessions revoked one after the other
   in this process, each session's socket (wherever HAProxy put it) timed to its close.

Usage: ``.venv/bin/python bench/hub_scale.py [--quick]`` (quick: 2,000 idle, 200 revokes,
the storm and restart at 500) or with explicit ``--idle/--storm/--restart/--revokes``.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def sessions(count: int, prefix: str) -> list[Any]:
    from sessions_core.models import User
    from sessions_core.services import session_create

    out = []
    for n in range(-(-count // 5)):
        user = User.objects.create(username=f"{prefix}{n}", discord_id=f"{prefix}{n}", discord_username=f"{prefix} {n}")
        out += [session_create(user=user, ip="127.0.0.1", user_agent="bench") for _ in range(5)]
    return out[:count]


def clients_over(pool: list[Any], count: int, url: str | None = None) -> list[Any]:
    from tests.support.hub_swarm import Client

    return [Client(pool[i % len(pool)].access_token, pool[i % len(pool)].user_id, pool[i % len(pool)].session_id, url=url)
            for i in range(count)]


def idle(worker: Any, pool: list[Any], count: int) -> None:
    from tests.support.hub_swarm import Swarm

    before = rss_kib(worker.proc.pid)
    # A gentle ramp (10 handshakes in flight): this measures holding, not admitting.
    swarm = Swarm(f"ws://127.0.0.1:{worker.port}/hub", clients_over(pool, count), ramp=10).start()
    try:
        try:
            took = swarm.wait(lambda: swarm.connected() == count, 60 + count / 10, "idle connections")
        except TimeoutError:
            took = float("nan")
        time.sleep(3)  # let the worker settle before reading its memory
        after = rss_kib(worker.proc.pid)
        held = swarm.connected()
        summary = swarm.summary()
    finally:
        swarm.stop()
    print(f"idle: {held} of {count} connections held by one worker ({len(pool)} sessions), all connected in {took:.1f}s; "
          f"refusals {summary['refusals'] or '{}'}, failed attempts {summary['failures']}")
    print(f"  worker RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB: {(after - before) / max(1, held):.1f} KiB per connection")


def storm(lb: Any, pool: list[Any], count: int) -> None:
    from tests.support.hub_swarm import Swarm

    swarm = Swarm(f"{lb.ws_url}/hub", clients_over(pool, count), ramp=count).start()
    try:
        try:
            took = swarm.wait(lambda: swarm.connected() == count, 180, "storm")
        except TimeoutError:
            took = float("nan")  # (printed as nan: not all connected within 180 s)
        summary = swarm.summary()
        waits = [c.connected_at for c in swarm.clients if c.connected_at]
    finally:
        swarm.stop()
    first = min(waits)
    print(f"storm: {count} clients at once through HAProxy (3 workers): {summary['connected']} connected, all in {took:.1f}s "
          f"(p50 {pct([w - first for w in waits], 0.5):.1f}s, p99 {pct([w - first for w in waits], 0.99):.1f}s after the first)")
    print(f"  refusals by status {summary['refusals'] or '{}'}, other failed attempts {summary['failures']}, "
          f"most consecutive failures of one client {summary['longest_retry']}")


def rolling_restart(lb: Any, workers: list[Any], pool: list[Any], count: int) -> None:
    from tests.support.hub_swarm import Swarm

    swarm = Swarm(f"{lb.ws_url}/hub", clients_over(pool, count)).start()
    try:
        swarm.wait(lambda: swarm.connected() == count, 120, "restart: initial connections")
        for i, worker in enumerate(workers, 1):
            held = lb.current_sessions()[f"w{i}"]
            started = time.monotonic()
            worker.stop(timeout=30)
            stopped = time.monotonic() - started
            back = swarm.wait(lambda: swarm.connected() == count, 120, f"restart: back after w{i}")
            drained = [ln.split("drain: ", 1)[1] for ln in worker.log.read_text(errors="replace").splitlines() if "drain: done" in ln]
            print(f"restart: w{i} held {held} connections, exited {stopped:.1f}s after SIGTERM ({drained[-1] if drained else 'no drain'}); "
                  f"all {count} connected again {back:.1f}s later")
            worker.start()
            lb.wait_state(f"w{i}", "UP", timeout=60)
        summary = swarm.summary()
    finally:
        swarm.stop()
    print(f"  moved (close with allowReconnect) {summary['drained']}, signed out {summary['signed_out']}, "
          f"dropped without close {summary['drops']}, refusals {summary['refusals'] or '{}'}, failed attempts {summary['failures']}")


def revoke_to_close(lb: Any, count: int) -> None:
    from sessions_core.models import AuthSession, RevokeReason
    from sessions_core.services import session_revoke
    from tests.support.hub_swarm import Swarm

    targets = sessions(count, "rv")
    swarm = Swarm(f"{lb.ws_url}/hub", clients_over(targets, count), ramp=10).start()
    revoked_at: dict[str, float] = {}
    try:
        try:
            swarm.wait(lambda: swarm.connected() == count, 300, "revoke: connections")
        except TimeoutError:
            pass  # (measured over the sockets that are open)
        held = {c.sid for c in swarm.clients if c.connected}
        rows = {r.id.hex: r for r in AuthSession.objects.filter(id__in=[t.session_id for t in targets])}
        started = time.monotonic()
        for t in targets:
            revoked_at[t.session_id] = time.time()
            session_revoke(session=rows[t.session_id], reason=RevokeReason.ADMIN)
        revoking = time.monotonic() - started
        try:
            swarm.wait(lambda: all(c.signed_out for c in swarm.clients if c.sid in held), 30, "revoke: closes")
        except TimeoutError:
            pass
        ms = [(c.closed_at - revoked_at[c.sid]) * 1000 for c in swarm.clients if c.closed_at and c.sid in held]
        other = [(c.drop_reason, round(c.dropped_at - revoked_at[c.sid], 3) if c.dropped_at else None)
                 for c in swarm.clients if c.sid in held and not c.closed_at]
    finally:
        swarm.stop()
    print(f"revoke-to-close: {count} sessions across 3 workers behind HAProxy ({count / revoking:.0f} revokes/s): "
          f"{len(ms)} of {len(held)} open sockets closed with sessionRevoked, p50 {pct(ms, 0.5):.0f} ms, p99 {pct(ms, 0.99):.0f} ms, max {max(ms):.0f} ms")
    if other:
        print(f"  {len(other)} ended otherwise (how, seconds after its revoke): {other[:5]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--idle", type=int)
    parser.add_argument("--storm", type=int)
    parser.add_argument("--restart", type=int)
    parser.add_argument("--revokes", type=int)
    args = parser.parse_args()
    # (0 skips a part)
    n_idle = args.idle if args.idle is not None else (2000 if args.quick else 10_000)
    n_storm = args.storm if args.storm is not None else (500 if args.quick else 2000)
    n_restart = args.restart if args.restart is not None else 500
    n_revokes = args.revokes if args.revokes is not None else (200 if args.quick else 1000)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children (workers, HAProxy) inherit it

    from tests.support.redis_server import RedisServer

    work = Path(tempfile.mkdtemp(prefix="authsite-hubscale-"))
    redis = RedisServer().start()
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "authsite.settings", "DEBUG": "0", "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
        "REDIS_URL": redis.url, "AUTHSITE_REDIS_KEY_PREFIX": f"hs{uuid.uuid4().hex[:6]}", "RATELIMIT_ENABLE": "0",
    })
    import django

    django.setup()
    import logging

    logging.getLogger("authsite.security").setLevel(logging.WARNING)
    from django.core.management import call_command

    from tests.realtime.live import Daphne
    from tests.support.haproxy import HAProxy

    call_command("migrate", verbosity=0)
    workers = [Daphne() for _ in range(3)]
    lb = HAProxy([w.port for w in workers], check_inter="1s")
    try:
        for w in workers:
            w.launch()
        for w in workers:
            w.wait_ready()
        lb.env["HAPROXY_MAXCONN"] = str(max(8000, n_storm * 2))
        lb.start()
        for i in range(1, 4):
            lb.wait_state(f"w{i}", "UP")
        print(f"== hub at scale: 3 daphne workers behind HAProxy, private Redis, SQLite (nofile {hard}) ==")
        pool = sessions(50, "pool")
        if n_idle:
            idle(workers[0], pool, n_idle)
        if n_storm:
            storm(lb, pool, n_storm)
        if n_restart:
            rolling_restart(lb, workers, pool, n_restart)
        if n_revokes:
            revoke_to_close(lb, n_revokes)
    finally:
        lb.stop()
        for w in workers:
            w.close()
        redis.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
