"""HTTP session-auth benchmark: ratios measured side by side in one run.

Prints:
1. requests/s of one trivial JSON view served by daphne, bare vs behind authsite's
   session authentication vs behind Django's SessionMiddleware +
   AuthenticationMiddleware (cache backend on the same Redis), alternated over
   several rounds (median), and the ratios to bare;
2. the validate cost (one Redis round trip) with 1,000 and with 1,000,000
   sessions in Redis, and Redis memory per session;
3. a refresh storm: 100 concurrent POST /auth/refresh with one refresh token
   against the real site: successes, distinct token pairs, rotations, and refresh
   p99 as a multiple of validate p99 under the same concurrency.

Needs `wrk` (Debian package) for part 1. Run: `make bench` (or
`.venv/bin/python bench/http_auth.py --help`). Everything runs on loopback
against a private redis-server and a throwaway SQLite database.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.redis_server import RedisServer, free_port  # noqa: E402

WORK = Path(tempfile.mkdtemp(prefix="authsite-bench-"))
REDIS = RedisServer().start()
os.environ.update(
    REDIS_URL=REDIS.url,
    DATABASE_URL=f"sqlite:///{WORK / 'bench.sqlite3'}",
    DJANGO_SETTINGS_MODULE="authsite.settings",
    SECRET_KEY="bench-" + "k" * 60,
)

import django  # noqa: E402

django.setup()
from django.core.management import call_command  # noqa: E402


def serve(settings_module: str, variant: str = "") -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, "BENCH_VARIANT": variant, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), "authsite.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            c = HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/healthz" if settings_module == "authsite.settings" else "/who")
            c.getresponse().read()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"daphne ({settings_module} {variant}) did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(port: int, cookie: str, seconds: int, conns: int, pid: int | None = None) -> tuple[float, float]:
    """(requests/s, server CPU microseconds per request) of one wrk run."""
    before = cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(
        ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "-H", f"Cookie: {cookie}", f"http://127.0.0.1:{port}/who"],
        capture_output=True, text=True, check=True,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"benchmark requests failed:\n{out}")
    used = (cpu_seconds(pid) - before) if pid else 0.0
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), used / total * 1e6  # type: ignore[union-attr]


def check_200(port: int, cookie: str) -> None:
    c = HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/who", headers={"Cookie": cookie})
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        raise SystemExit(f"/who answered {r.status}: {body[:200]!r}")


def part_throughput(args: argparse.Namespace) -> None:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from importlib import import_module

    from sessions_core.conf import SESSION_COOKIE
    from sessions_core.models import User
    from sessions_core.services import session_create

    user, _ = User.objects.get_or_create(username="bench")
    issued = session_create(user=user, ip="127.0.0.1", user_agent="bench")
    store_mod = import_module("django.contrib.sessions.backends.cache")
    from django.test import override_settings

    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.cache"):
        dj = store_mod.SessionStore()
        dj[SESSION_KEY] = str(user.pk)
        dj[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        dj[HASH_SESSION_KEY] = user.get_session_auth_hash()
        dj.save()
    cookies = {"bare": "", "authsite": f"{SESSION_COOKIE}={issued.session_token}", "django": f"sessionid={dj.session_key}"}
    servers = {v: serve("bench.settings_bench", v) for v in cookies}
    try:
        for v, (_, port) in servers.items():
            if v != "bare":
                check_200(port, cookies[v])
            wrk(port, cookies[v], 1, args.connections)  # warm up
        rates: dict[str, list[float]] = {v: [] for v in cookies}
        cpus: dict[str, list[float]] = {v: [] for v in cookies}
        for _ in range(args.rounds):
            for v, (proc, port) in servers.items():
                rate, cpu = wrk(port, cookies[v], args.seconds, args.connections, proc.pid)
                rates[v].append(rate)
                cpus[v].append(cpu)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
    med = {v: statistics.median(r) for v, r in rates.items()}
    cpu = {v: statistics.median(c) for v, c in cpus.items()}
    print("\n== 1. One JSON view under daphne (median of %d interleaved rounds, %d s each, %d connections) ==" % (
        args.rounds, args.seconds, args.connections))
    print("  Server CPU per request is the robust figure on a shared machine; req/s wanders with neighbours.")
    for v in cookies:
        print(f"  {v:9s} {cpu[v]:6.0f} us CPU/request  throughput ratio to bare {cpu['bare'] / cpu[v]:.2f}"
              f"   |  {med[v]:6.0f} req/s (ratio {med[v] / med['bare']:.2f})")
    print(f"  authsite vs Django's session auth: {cpu['django'] / cpu['authsite']:.2f}x the throughput per CPU"
          "   targets: authsite >= 0.85 of bare, and ahead of Django")
    check = asyncio.run(session_check_cpu(issued.session_token, args.connections))
    print(f"  in-process CPU of the session check itself (cookie HMAC + one pipelined Redis script, "
          f"{args.connections} in flight): {check:.0f} us/request -> implied ratio to bare "
          f"{cpu['bare'] / (cpu['bare'] + check):.2f}")


async def session_check_cpu(token: str, concurrency: int, rounds: int = 300) -> float:
    """CPU microseconds per call of the middleware's check, ``concurrency`` calls in flight."""
    from sessions_core.services.authenticate import authenticate_session_token

    await authenticate_session_token(token)
    start = time.process_time()
    for _ in range(rounds):
        await asyncio.gather(*(authenticate_session_token(token) for _ in range(concurrency)))
    return (time.process_time() - start) / (rounds * concurrency) * 1e6


SEED = """
local prefix, first, last, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local exp = tonumber(now) + 86400000
for i = first, last do
  local sid = string.format('%032x', i)
  local tag = prefix .. ':{u' .. i .. '}'
  local k = tag .. ':s:' .. sid
  redis.call('HSET', k, 'st', 'a', 'rr', '', 'exp', exp, 'abs', exp + 86400000, 'tv', 1,
    'la', now, 'fl', now, 'cur', string.rep('a', 64), 'prev', string.rep('b', 64), 'gen', 3, 'rot', now)
  redis.call('PEXPIREAT', k, exp)
  redis.call('HSET', tag .. ':u', 'tv', 1, 'un', 'player' .. i, 'dn', 'Player ' .. i,
    'av', '~123456789012345678/a_0123456789abcdef0123456789abcdef',
    'pf', 'ABCDEF0123456789')
  redis.call('PEXPIRE', tag .. ':u', 2592000000)
  redis.call('ZADD', tag .. ':ss', now, sid)
end
return last
"""


def seed(r, prefix: str, n: int) -> None:  # type: ignore[no-untyped-def]
    now = str(int(time.time() * 1000))
    step = 5000
    for first in range(1, n + 1, step):
        r.eval(SEED, 0, prefix, first, min(n, first + step - 1), now)


async def validate_rate(prefix: str, n: int, calls: int) -> tuple[float, float]:
    from django.conf import settings

    from sessions_core import store

    settings.AUTHSITE = {**settings.AUTHSITE, "REDIS_KEY_PREFIX": prefix}
    rng = random.Random(7)
    ids = [rng.randint(1, n) for _ in range(calls)]
    lat = []
    start = time.perf_counter()
    for i in ids:
        t = time.perf_counter()
        v = await store.avalidate(i, f"{i:032x}")
        lat.append(time.perf_counter() - t)
        assert v is not None
    total = time.perf_counter() - start
    return calls / total, statistics.quantiles(lat, n=100)[98]


def part_scale(args: argparse.Namespace) -> None:
    import redis

    r = redis.Redis.from_url(REDIS.url)
    r.flushall()
    base = r.info("memory")["used_memory"]
    seed(r, "small", 1000)
    small_mem = r.info("memory")["used_memory"] - base
    t = time.perf_counter()
    seed(r, "big", args.sessions)
    seeded = time.perf_counter() - t
    big_mem = r.info("memory")["used_memory"] - base - small_mem
    sample = range(1, 1001)
    session_only = sum(int(r.memory_usage(f"big:{{u{i}}}:s:{i:032x}") or 0) for i in sample) / len(sample)
    user_only = sum(int(r.memory_usage(f"big:{{u{i}}}:u") or 0) for i in sample) / len(sample)
    set_only = sum(int(r.memory_usage(f"big:{{u{i}}}:ss") or 0) for i in sample) / len(sample)
    encoding = r.object("encoding", "big:{u1}:s:" + f"{1:032x}")
    rates: dict[str, list[float]] = {"small": [], "big": []}
    p99s: dict[str, list[float]] = {"small": [], "big": []}
    for _ in range(3):
        for prefix, n in (("small", 1000), ("big", args.sessions)):
            rate, p99 = asyncio.run(validate_rate(prefix, n, args.validate_calls))
            rates[prefix].append(rate)
            p99s[prefix].append(p99)
    small, big = statistics.median(rates["small"]), statistics.median(rates["big"])
    print(f"\n== 2. Validate cost vs sessions in Redis ({args.validate_calls} calls x 3 rounds, random sessions) ==")
    print(f"  1,000 sessions:     {small:8.0f} validates/s  p99 {statistics.median(p99s['small']) * 1e6:6.0f} us")
    print(f"  {args.sessions:,} sessions: {big:8.0f} validates/s  p99 {statistics.median(p99s['big']) * 1e6:6.0f} us  (seeded in {seeded:.0f} s)")
    print(f"  cost ratio (large / small, per call): {small / big:.2f}   target <= 1.1")
    print(f"  Redis memory, used_memory delta / sessions (one user per session, the worst case): "
          f"{big_mem / args.sessions:.0f} B")
    print(f"  per session: session hash {session_only:.0f} B ({encoding.decode()}) + its entry in the user's set; "
          f"per user: user hash {user_only:.0f} B + set {set_only:.0f} B   target <= 1024 B per session")


def post(port: int, path: str, cookie: str, csrf: str) -> tuple[int, float, dict[str, str], bytes]:
    c = HTTPConnection("127.0.0.1", port, timeout=60)
    t = time.perf_counter()
    c.request("POST", path, headers={"Cookie": f"{cookie}; csrftoken={csrf}", "X-CSRFToken": csrf, "Content-Length": "0"})
    resp = c.getresponse()
    body = resp.read()
    elapsed = time.perf_counter() - t
    cookies = {}
    for k, v in resp.getheaders():
        if k.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            cookies[name] = rest.split(";", 1)[0]
    return resp.status, elapsed, cookies, body


def burst(n: int, fn) -> list:  # type: ignore[no-untyped-def,type-arg]
    barrier = threading.Barrier(n)
    out: list = [None] * n  # type: ignore[type-arg]

    def run(i: int) -> None:
        barrier.wait()
        out[i] = fn()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def part_storm(args: argparse.Namespace) -> None:
    from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
    from sessions_core.models import AuthSession, User
    from sessions_core.services import session_create

    user, _ = User.objects.get_or_create(username="storm")
    issued = session_create(user=user, ip="127.0.0.1", user_agent="bench")
    proc, port = serve("authsite.settings")
    csrf = "b" * 32
    try:
        n = args.storm
        validates = burst(n, lambda: post(port, "/auth/validate", f"{SESSION_COOKIE}={issued.session_token}", csrf))
        refreshes = burst(n, lambda: post(port, "/auth/refresh", f"{REFRESH_COOKIE}={issued.refresh_token}", csrf))
    finally:
        proc.terminate()
    ok = [r for r in refreshes if r[0] == 200]
    pairs = {(r[2].get(SESSION_COOKIE), r[2].get(REFRESH_COOKIE)) for r in ok}
    rotations = AuthSession.objects.get(pk=issued.session_id).refresh_generation
    v_p99 = statistics.quantiles([r[1] for r in validates], n=100)[98]
    r_p99 = statistics.quantiles([r[1] for r in refreshes], n=100)[98]
    print(f"\n== 3. Refresh storm: {n} concurrent POST /auth/refresh with one refresh token ==")
    print(f"  succeeded {len(ok)}/{n}   distinct token pairs {len(pairs)}   rotations {rotations}")
    print(f"  validate p99 {v_p99 * 1000:.1f} ms (same {n}-way burst)   refresh p99 {r_p99 * 1000:.1f} ms   ratio {r_p99 / v_p99:.1f}x")
    if len(ok) != n or len(pairs) != 1 or rotations != 1:
        raise SystemExit("refresh storm did not converge on one rotation")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--sessions", type=int, default=1_000_000)
    p.add_argument("--validate-calls", type=int, default=20_000)
    p.add_argument("--storm", type=int, default=100)
    p.add_argument("--only", choices=["throughput", "scale", "storm"])
    args = p.parse_args()
    if not shutil.which("wrk") and args.only in (None, "throughput"):
        raise SystemExit("wrk is needed for the throughput part: apt-get install wrk (or pass --only scale|storm)")
    try:
        call_command("migrate", verbosity=0)
        if args.only in (None, "throughput"):
            part_throughput(args)
        if args.only in (None, "scale"):
            part_scale(args)
        if args.only in (None, "storm"):
            part_storm(args)
    finally:
        REDIS.close()
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
