"""Benchmark of the realtime hub on real daphne workers and a private Redis.

Prints, from one run:
1. WebSocket + SignalR handshakes per second with token validation, versus the
   same Channels stack with no authentication, and their ratio (rounds alternate
   between the two so machine noise hits both);
2. idle connections held by one worker, and the worker's memory per connection;
3. time from a logout on worker A to the close of the session's socket on
   worker B (p50/p99), through the revocation stream (realtime/fanout.py).

Usage: ``.venv/bin/python bench/hub_bench.py [--handshakes N] [--idle N] [--revokes N]``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RS = "\x1e"
HANDSHAKE = json.dumps({"protocol": "json", "version": 1}) + RS


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, app: str, env: dict[str, str], log_dir: Path) -> None:
        self.port = free_port()
        self.log = log_dir / f"daphne-{self.port}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), app],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )
        import requests

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"daphne did not start: {self.log.read_text()[-2000:]}")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


async def one_handshake(url: str) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, open_timeout=10) as ws:
        await ws.send(HANDSHAKE)
        assert await ws.recv() == "{}" + RS


async def handshake_rate(url: str, count: int, concurrency: int) -> float:
    sem = asyncio.Semaphore(concurrency)

    async def run() -> None:
        async with sem:
            await one_handshake(url)

    started = time.perf_counter()
    await asyncio.gather(*(run() for _ in range(count)))
    return count / (time.perf_counter() - started)


async def hold_idle(url: str, count: int) -> list[Any]:
    from websockets.asyncio.client import connect

    sockets = []
    for start in range(0, count, 50):
        batch = [connect(url, open_timeout=20, ping_interval=None) for _ in range(min(50, count - start))]
        for ws in await asyncio.gather(*batch):
            await ws.send(HANDSHAKE)
            assert await ws.recv() == "{}" + RS
            sockets.append(ws)
    return sockets


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def revoke_latencies(a: Server, b: Server, sessions: list[Any]) -> tuple[list[float], list[float]]:
    import requests
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    landing = requests.get(f"http://127.0.0.1:{a.port}/", timeout=5)
    csrf = landing.cookies["csrftoken"]
    close_ms, request_ms = [], []
    for issued in sessions:
        ws = await connect(f"ws://127.0.0.1:{b.port}/hub?access_token={issued.access_token}")
        await ws.send(HANDSHAKE)
        assert await ws.recv() == "{}" + RS

        async def closed() -> float:
            try:
                while True:
                    await ws.recv()
            except ConnectionClosed:
                return time.perf_counter()

        waiter = asyncio.ensure_future(closed())
        cookie = f"csrftoken={csrf}; as_session={issued.session_token}"
        started = time.perf_counter()
        resp = await asyncio.to_thread(
            requests.post, f"http://127.0.0.1:{a.port}/auth/logout",
            headers={"X-CSRFToken": csrf, "Cookie": cookie}, timeout=10,
        )
        answered = time.perf_counter()
        assert resp.status_code == 200, resp.text
        done = await asyncio.wait_for(waiter, 5)
        close_ms.append((done - started) * 1000)
        request_ms.append((answered - started) * 1000)
    return close_ms, request_ms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--handshakes", type=int, default=600, help="handshakes per round and stack")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--revokes", type=int, default=100)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.idle * 2 + 1024)), hard))

    from tests.support.redis_server import RedisServer

    work = Path(tempfile.mkdtemp(prefix="authsite-hubbench-"))
    redis = RedisServer().start()
    servers: list[Server] = []
    try:
        env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "authsite.settings", "DEBUG": "0", "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}", "REDIS_URL": redis.url,
            "AUTHSITE_REDIS_KEY_PREFIX": f"hb{uuid.uuid4().hex[:6]}", "RATELIMIT_ENABLE": "0",
            # DEBUG off refuses to start without a strong key: one for this run.
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        }
        os.environ.update(env)
        import django

        django.setup()
        import logging

        logging.getLogger("authsite.security").setLevel(logging.WARNING)  # one line per session made
        from django.core.management import call_command

        from sessions_core.models import User
        from sessions_core.services import session_create

        call_command("migrate", verbosity=0)
        users = [User.objects.create(username=f"bench{i}", discord_username=f"Bench {i}") for i in range(args.revokes + 1)]
        main_session = session_create(user=users[0], ip="127.0.0.1", user_agent="bench")
        principal = {
            "uid": main_session.user_id, "sid": main_session.session_id, "jti": "bench", "tv": 1,
            "exp": main_session.access_exp, "name": "Bench 0",
        }
        auth_a = Server("authsite.asgi:application", env, work)
        auth_b = Server("authsite.asgi:application", env, work)
        noauth = Server("bench.hub_noauth_asgi:application", {**env, "BENCH_PRINCIPAL": json.dumps(principal)}, work)
        servers += [auth_a, auth_b, noauth]
        auth_url = f"ws://127.0.0.1:{auth_a.port}/hub?access_token={main_session.access_token}"
        bare_url = f"ws://127.0.0.1:{noauth.port}/hub"

        async def handshakes() -> tuple[float, float]:
            await handshake_rate(auth_url, 50, args.concurrency)  # warm-up (imports, pools, key ring)
            await handshake_rate(bare_url, 50, args.concurrency)
            with_auth, without = [], []
            for _ in range(args.rounds):
                with_auth.append(await handshake_rate(auth_url, args.handshakes, args.concurrency))
                without.append(await handshake_rate(bare_url, args.handshakes, args.concurrency))
            return statistics.median(with_auth), statistics.median(without)

        rate_auth, rate_bare = asyncio.run(handshakes())

        async def idle() -> tuple[int, int, int]:
            before = auth_b.rss_kib()
            sockets = await hold_idle(f"ws://127.0.0.1:{auth_b.port}/hub?access_token={main_session.access_token}", args.idle)
            await asyncio.sleep(2)  # let the worker settle before reading its memory
            after = auth_b.rss_kib()
            for ws in sockets:
                await ws.close()
            return len(sockets), before, after

        held, rss_before, rss_after = asyncio.run(idle())

        sessions = [session_create(user=u, ip="127.0.0.1", user_agent="bench revoke") for u in users[1:]]
        close_ms, request_ms = asyncio.run(revoke_latencies(auth_a, auth_b, sessions))

        print("== realtime hub benchmark (daphne, one process per worker, private Redis) ==")
        print(f"handshakes/s  with token validation: {rate_auth:8.1f}")
        print(f"handshakes/s  same stack, no auth:   {rate_bare:8.1f}")
        print(f"ratio (auth / no auth):              {rate_auth / rate_bare:8.2f}"
              f"   ({args.rounds} rounds x {args.handshakes}, concurrency {args.concurrency}, medians)")
        print(f"idle connections held by one worker: {held:8d}")
        print(f"worker RSS before / after:           {rss_before / 1024:8.1f} / {rss_after / 1024:.1f} MiB")
        print(f"memory per idle connection:          {(rss_after - rss_before) / max(1, held):8.1f} KiB")
        print(f"logout on worker A -> socket closed on worker B, {len(close_ms)} sessions:")
        print(f"  p50 {percentile(close_ms, 0.5):7.1f} ms   p99 {percentile(close_ms, 0.99):7.1f} ms"
              f"   max {max(close_ms):7.1f} ms   (the logout request alone: p50 {percentile(request_ms, 0.5):.1f} ms)")
    finally:
        for server in servers:
            server.stop()
        redis.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
