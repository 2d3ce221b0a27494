"""Degraded-mode benchmark: authenticated throughput with Redis down, as a ratio of
normal, in one run; and SQL queries per authenticated request while degraded.

Prints:
1. requests/s of ``POST /auth/validate`` (the authenticated hot path) served by
   one daphne worker, spread over ``--sessions`` sessions, with Redis up and
   with Redis stopped (sessions from SQL), alternated over ``--rounds`` rounds;
   the median of each and their ratio;
2. SQL queries per authenticated request while degraded, counted in-process
   (Django's ``CaptureQueriesContext``) over the same spread of sessions at the
   same per-session request rate the daphne run reached.

Needs ``wrk`` (Debian package). Run: ``.venv/bin/python bench/degraded.py``.
Everything runs on loopback against a private redis-server and a throwaway
SQLite database (``--database-url`` for PostgreSQL).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.redis_server import RedisServer, free_port  # noqa: E402

WRK_SCRIPT = """
local cookies = {%s}
local i = 0
request = function()
  i = i + 1
  local c = cookies[(i %% #cookies) + 1]
  return wrk.format("POST", "/auth/validate", {["Cookie"] = c, ["X-CSRFToken"] = "%s"}, "")
end
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=200)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--database-url", default="")
    return p.parse_args()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(port: int, script: Path, seconds: int, conns: int, pid: int) -> tuple[float, float]:
    """(requests/s, server CPU microseconds per request) of one wrk run."""
    before = cpu_seconds(pid)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "-s", str(script), f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=True,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"benchmark requests failed:\n{out}")
    used = cpu_seconds(pid) - before
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), used / total * 1e6  # type: ignore[union-attr]


def wait_ready(port: int, degraded: bool) -> None:
    import requests

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            body = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).json()
            if body.get("degraded") is degraded:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the site did not become {'degraded' if degraded else 'healthy'}")


def main() -> None:
    args = parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="authsite-bench-degraded-"))
    redis = RedisServer().start()
    os.environ.update(
        REDIS_URL=redis.url,
        DATABASE_URL=args.database_url or f"sqlite:///{work / 'bench.sqlite3'}",
        DJANGO_SETTINGS_MODULE="authsite.settings",
        SECRET_KEY="bench-" + "k" * 60,
        DEBUG="0",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
    from sessions_core.models import User
    from sessions_core.services import session_create

    csrf = "b" * 32
    cookies = []
    for i in range(args.sessions):
        user = User.objects.create(username=f"bench{i}-{time.time_ns()}")
        issued = session_create(user=user, ip="127.0.0.1", user_agent="bench")
        cookies.append(f"csrftoken={csrf}; {SESSION_COOKIE}={issued.session_token}; {REFRESH_COOKIE}={issued.refresh_token}")
    script = work / "validate.lua"
    script.write_text(WRK_SCRIPT % (", ".join(f'"{c}"' for c in cookies), csrf))

    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), "authsite.asgi:application"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(port, degraded=False)
        rates: dict[str, list[float]] = {"normal": [], "degraded": []}
        cpus: dict[str, list[float]] = {"normal": [], "degraded": []}

        def measure(mode: str) -> None:
            wrk(port, script, 1, args.connections, proc.pid)  # warm up (the cache, rehydrated sessions)
            rate, cpu = wrk(port, script, args.seconds, args.connections, proc.pid)
            rates[mode].append(rate)
            cpus[mode].append(cpu)

        for _ in range(args.rounds):
            measure("normal")
            redis.stop()
            wait_ready(port, degraded=True)
            measure("degraded")
            redis.start()
            wait_ready(port, degraded=False)
        normal, degraded = statistics.median(rates["normal"]), statistics.median(rates["degraded"])
        cpu_n, cpu_d = statistics.median(cpus["normal"]), statistics.median(cpus["degraded"])
        print(f"POST /auth/validate over {args.sessions} sessions, one daphne worker, {args.connections} connections:")
        for mode, rate, cpu in (("normal", normal, cpu_n), ("degraded", degraded, cpu_d)):
            rounds = ", ".join(f"{r:.0f}" for r in rates[mode])
            print(f"  {mode:8s} {rate:7.0f} req/s (rounds: {rounds})   {cpu:6.0f} us server CPU/request")
        print(f"  degraded / normal throughput: {degraded / normal:.2f}   by server CPU per request: {cpu_n / cpu_d:.2f}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    queries_per_request(cookies_sessions=args.sessions, per_session_rate=degraded / args.sessions, redis=redis)
    redis.close()
    shutil.rmtree(work, ignore_errors=True)


def queries_per_request(*, cookies_sessions: int, per_session_rate: float, redis: RedisServer) -> None:
    """Replay the degraded run's request mix in-process, on a moved clock, counting SQL queries."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from sessions_core.conf import SESSION_COOKIE
    from sessions_core.models import AuthSession
    from sessions_core.store import degraded
    from sessions_core.store.breaker import breaker
    from sessions_core.tokens import make_session_token
    from sessions_core.tokens.signing_keys import get_keyring

    redis.stop()
    breaker.trip()
    degraded.clear()
    ring = get_keyring()
    rows = list(AuthSession.objects.filter(state="active").order_by("created_at")[:cookies_sessions])
    clients = []
    for row in rows:
        c = Client()
        c.cookies[SESSION_COOKIE] = make_session_token(ring, sid=row.id.hex, uid=row.user_id, exp=int(time.time()) + 3600)
        clients.append(c)
    # A clock moved by the request rate the server reached: each request advances it by 1/rate.
    clock = [time.monotonic()]
    step = 1.0 / max(1.0, per_session_rate * len(clients))
    degraded.clock = lambda: clock[0]
    requests_made = 3000
    with override_settings(ALLOWED_HOSTS=["testserver"]), CaptureQueriesContext(connection) as seen:
        for i in range(requests_made):
            clients[i % len(clients)].post("/auth/validate", HTTP_X_CSRFTOKEN="x")
            clock[0] += step
    covered = requests_made * step
    kinds: dict[str, int] = {}
    for q in seen:
        kind = q["sql"].split()[0].upper()
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"SQL while degraded: {len(seen) / requests_made:.3f} queries per authenticated request"
          f" ({requests_made} requests over {len(clients)} sessions, {covered:.1f} s of traffic at the measured rate;"
          f" by kind: {kinds})")


if __name__ == "__main__":
    main()
