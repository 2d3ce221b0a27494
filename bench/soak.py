"""Chaos soak: simulated browsers stay signed in through a misbehaving network and
restarts, and every logout is counted.

    python bench/soak.py --minutes 10          (make soak)
    python bench/soak.py --short               (the short run in make test: 25 s of chaos, ~1 min)

Sets up its own Redis, database (SQLite file unless ``--database-url``), two daphne
workers with short lifetimes (``AUTHSITE_*`` environment) and a TCP proxy in front
of them (bench/chaos/proxy.py) that drops requests, drops answers after the server
processed them, delays and resets connections. Meanwhile it restarts Redis (empty),
restarts the workers one at a time, takes browsers offline, loses refresh answers
on a browser's own link, jumps tab clocks and freezes tabs, and revokes sessions as
an admin would. The browsers follow bench/chaos/model.py (the browser code's rules).

Exit status 1 when any browser was signed out without the soak revoking its
session (a false logout), when a revoked session's credential was accepted more
than 1 s after the revoke, or when no refresh happened at all.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.chaos.processes import Worker, site_env  # noqa: E402
from bench.chaos.proxy import Action, ChaosProxy, PASS  # noqa: E402
from tests.support.redis_server import RedisServer, free_port  # noqa: E402

LIFETIMES = {
    "AUTHSITE_SESSION_TOKEN_TTL_SECONDS": "20",
    "AUTHSITE_ACCESS_TOKEN_TTL_SECONDS": "15",
    "AUTHSITE_ACTIVITY_FLUSH_INTERVAL_SECONDS": "5",
    "AUTHSITE_RATE_REFRESH": "100000/m",
    "AUTHSITE_RATE_TOKEN": "100000/m",
}
MARGIN = 3.0  # renew this long before the stated lifetime ends


@dataclass
class Chaos:
    """How often each fault happens (probabilities per request; periods in seconds)."""

    drop_request: float = 0.02
    drop_answer: float = 0.02
    drop_refresh_answer: float = 0.08
    delay: float = 0.03
    reset: float = 0.01
    redis_restart_every: float = 45
    worker_restart_every: float = 35
    offline_every: float = 4
    jump_every: float = 3
    suspend_every: float = 4
    revoke_every: float = 12
    # How long a browser stays offline after losing a refresh answer (past the 10 s grace window).
    lost_offline: tuple[float, float] = (11, 30)

    def policy(self, method: str, path: str) -> Action:
        r = random.random()
        lose = self.drop_refresh_answer if path == "/auth/refresh" else self.drop_answer
        for kind, p in (("drop_request", self.drop_request), ("drop_answer", lose), ("reset", self.reset)):
            if r < p:
                return Action(kind)
            r -= p
        if r < self.delay:
            return Action("delay", random.uniform(0.2, 3.0))
        return PASS


class FlakyLink:
    """One browser's own network: offline spells, and a refresh answer lost followed by
    an offline spell longer than the grace window (the case lost-answer recovery is for)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.offline_until = 0.0
        self.lose_next_refresh_for = 0.0

    async def post(self, path: str, *, cookies: dict[str, str], bearer: str | None = None) -> Any:
        from bench.chaos.model import Reply

        if time.monotonic() < self.offline_until:
            await asyncio.sleep(0.05)
            return Reply(error="offline")
        reply = await self.inner.post(path, cookies=cookies, bearer=bearer)
        if path == "/auth/refresh" and self.lose_next_refresh_for:
            self.offline_until = time.monotonic() + self.lose_next_refresh_for
            self.lose_next_refresh_for = 0.0
            return Reply(error="lost_answer")
        return reply

    async def get(self, path: str, *, cookies: dict[str, str]) -> Any:
        return await self.inner.get(path, cookies=cookies)


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.chaos = Chaos()
        self.lifetimes = dict(LIFETIMES)
        self.tmp = Path(tempfile.mkdtemp(prefix="authsite-soak-"))
        self.redis = RedisServer()
        self.workers: list[Worker] = []
        self.events: list[str] = []
        self.revoked: dict[str, float] = {}
        self.errors: list[str] = []
        self.stop = asyncio.Event()
        self.fivexx_window: list[str] = []

    # --- setup ------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        db = self.args.database_url or f"sqlite:///{self.tmp / 'soak.sqlite3'}"
        return site_env(
            DATABASE_URL=db, REDIS_URL=self.redis.url, SECRET_KEY=secrets.token_urlsafe(50),
            AUTHSITE_REDIS_KEY_PREFIX="soak", AUTH_COOKIE_SECURE="0", **self.lifetimes,
        )

    def start_site(self) -> None:
        self.redis.start()
        env = self.environment()
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        os.environ.update(env)
        import logging

        import django

        django.setup()
        # The workers log security events; this process's own (sign-ins, revokes) would drown the report.
        logging.getLogger("authsite.security").setLevel(logging.WARNING)
        from sessions_core.tokens import signing_keys

        signing_keys.get_keyring()  # one signing key before the workers read the ring
        self.workers = [Worker(free_port(), env, self.tmp / f"worker{i}.log") for i in range(2)]
        self._each_worker("start")

    def _each_worker(self, method: str) -> None:
        """Start or stop both workers at once (each takes seconds on a busy machine)."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(self.workers) or 1) as pool:
            list(pool.map(lambda w: getattr(w, method)(), self.workers))

    def close(self) -> None:
        self._each_worker("stop")
        self.redis.close()

    # --- browsers -----------------------------------------------------------------------

    def _sign_in(self) -> Any:
        from sessions_core.models import User
        from sessions_core.services import session_create

        tag = uuid.uuid4().hex[:10]
        user = User.objects.create(username=f"soak{tag}", discord_id=str(uuid.uuid4().int)[:18])
        return session_create(user=user, ip="127.0.0.1", user_agent="soak")

    async def browser(self, n: int, base_url: str, stats: Any) -> None:
        from bench.chaos.http_transport import HttpxTransport
        from bench.chaos.model import Browser, Tab

        inner = HttpxTransport(base_url)
        link = FlakyLink(inner)
        b = Browser(f"b{n}", link, stats, self.revoked)
        b.stop = self.stop
        b.tabs = [Tab(b, i) for i in range(random.randint(1, 5))]
        self.browsers.append((b, link))
        try:
            while not self.stop.is_set():
                try:
                    t = await asyncio.to_thread(self._sign_in)
                except Exception as e:  # noqa: BLE001 - Redis or the database restarting: sign in again shortly
                    self.events.append(f"sign-in failed ({type(e).__name__})")
                    await asyncio.sleep(1)
                    continue
                now = time.time()
                b.signed_in(sid=t.session_id, session_token=t.session_token, refresh_token=t.refresh_token,
                            access_token=t.access_token, access_expires_in=t.access_exp - now,
                            session_expires_in=t.session_token_exp - now)
                await b.csrf()
                await asyncio.gather(*(b.run_tab(tab, self.stop, MARGIN) for tab in b.tabs))
        except Exception as e:  # noqa: BLE001 - a bug in the model or an answer it cannot read: reported, fails the run
            self.errors.append(f"{b.name}: {e!r}")
        finally:
            await inner.close()

    # --- chaos --------------------------------------------------------------------------

    async def every(self, period: float, action: Any) -> None:
        while not self.stop.is_set():
            try:
                await asyncio.wait_for(self.stop.wait(), random.uniform(0.5, 1.5) * period)
                return
            except asyncio.TimeoutError:
                pass
            await action()

    async def restart_redis(self) -> None:
        self.events.append("redis restart")
        await asyncio.to_thread(self.redis.stop)
        await asyncio.sleep(random.uniform(0.2, 1.5))
        await asyncio.to_thread(self.redis.start)

    async def restart_worker(self) -> None:
        worker = self.workers[len([e for e in self.events if e == "worker restart"]) % len(self.workers)]
        self.events.append("worker restart")
        await asyncio.to_thread(worker.restart)

    def _pick(self) -> Any:
        live = [(b, link) for b, link in self.browsers if not b.signed_out]
        return random.choice(live) if live else (None, None)

    async def offline(self) -> None:
        b, link = self._pick()
        if link is None:
            return
        if random.random() < 0.5:
            # The next refresh is answered but the answer is lost, then 11-30 s offline.
            link.lose_next_refresh_for = random.uniform(*self.chaos.lost_offline)
            self.events.append("lost refresh answer + offline")
        else:
            link.offline_until = time.monotonic() + random.uniform(2, 30)
            self.events.append("offline")

    async def jump(self) -> None:
        b, _ = self._pick()
        if b is not None:
            random.choice(b.tabs).jump(random.uniform(5, 120))
            self.events.append("clock jump")

    async def suspend(self) -> None:
        b, _ = self._pick()
        if b is not None:
            self.events.append("suspend")
            asyncio.ensure_future(random.choice(b.tabs).suspend(random.uniform(2, 20)))

    async def revoke(self) -> None:
        b, _ = self._pick()
        if b is None or not b.sid:
            return
        sid = b.sid

        def end() -> None:
            from sessions_core.models import AuthSession, RevokeReason
            from sessions_core.services import session_revoke

            row = AuthSession.objects.get(pk=uuid.UUID(hex=sid))
            session_revoke(session=row, reason=RevokeReason.ADMIN, note="soak")

        try:
            await asyncio.to_thread(end)
        except Exception as e:  # noqa: BLE001 - Redis may be restarting: this revoke is simply not counted
            self.events.append(f"revoke failed ({type(e).__name__})")
            return
        self.revoked.setdefault(sid, time.time())  # a second revoke of the same session changes nothing
        self.events.append("revoke")

    # --- run ------------------------------------------------------------------------------

    async def run(self) -> int:
        from bench.chaos.model import Stats

        stats = Stats()
        self.browsers: list[Any] = []
        proxy = await ChaosProxy([w.port for w in self.workers], self.chaos.policy).start()
        base = f"http://127.0.0.1:{proxy.port}"
        started = time.monotonic()
        tasks = [asyncio.ensure_future(self.browser(i, base, stats)) for i in range(self.args.browsers)]
        c = self.chaos
        chaos = [
            asyncio.ensure_future(self.every(period, action)) for period, action in (
                (c.redis_restart_every, self.restart_redis), (c.worker_restart_every, self.restart_worker),
                (c.offline_every, self.offline), (c.jump_every, self.jump), (c.suspend_every, self.suspend),
                (c.revoke_every, self.revoke),
            )
        ]
        try:
            await asyncio.wait_for(self.stop.wait(), self.args.minutes * 60)
        except asyncio.TimeoutError:
            pass
        self.stop.set()
        elapsed = time.monotonic() - started
        stuck = [
            f"{b.name} (signed out: {b.signed_out or 'no'}, {time.monotonic() - b.last_ok:.0f} s)"
            for b, _ in self.browsers if time.monotonic() - b.last_ok > 60
        ]
        await asyncio.gather(*chaos, return_exceptions=True)
        # Tabs finish their current step; frozen ones are cancelled.
        await asyncio.wait(tasks, timeout=2)
        for t in tasks:
            t.cancel()
        await proxy.close()
        return await asyncio.to_thread(self.report, stats, proxy.counts, elapsed, stuck)

    def report(self, stats: Any, proxy_counts: Any, elapsed: float, stuck: list[str]) -> int:
        from django.db.models import Sum

        from sessions_core.models import AuthSession, SessionEvent

        minutes = elapsed / 60
        rotations = AuthSession.objects.aggregate(n=Sum("refresh_generation"))["n"] or 0
        recovered = SessionEvent.objects.filter(cause="lost_answer_recovered").count()
        reuse = SessionEvent.objects.filter(kind="refresh_reuse").exclude(
            cause__in=["concurrent_refresh", "lost_answer_recovered"]
        ).count()
        false_logouts = [(sid, why) for sid, why, _ in stats.logouts if sid not in self.revoked]
        true_logouts = [(sid, why) for sid, why, _ in stats.logouts if sid in self.revoked]
        stale = [lag for lags in stats.accepted_after.values() for lag in lags]
        fivexx = {k: v for k, v in stats.failures.items() if k[:1] == "5"}
        transport = {k: v for k, v in stats.failures.items() if not k[:1].isdigit()}
        other = {k: v for k, v in stats.failures.items() if k[:1] in "1234"}
        chaos = {e: self.events.count(e) for e in sorted(set(self.events))}
        lines = [
            f"soak: {self.args.browsers} browsers, {sum(len(b.tabs) for b, _ in self.browsers)} tabs, "
            f"{elapsed:.0f} s",
            f"  requests: {dict(stats.requests)}",
            f"  proxy actions: {dict(proxy_counts)}",
            f"  chaos: {chaos}",
            f"  refreshes (rotations, server): {rotations}; refresh answers received: {stats.refresh_replies}",
            f"  lost answers recovered (server events): {recovered}",
            f"  reuse detections (server events, no thief in this run): {reuse}",
            f"  FALSE LOGOUTS: {len(false_logouts)} {false_logouts[:10]}",
            f"  sessions revoked by the soak: {len(self.revoked)}; their browsers signed out: {len(true_logouts)}",
            f"  credentials of revoked sessions accepted after the revoke: {len(stale)}"
            f" (latest {max(stale):.3f} s after)" if stale else
            "  credentials of revoked sessions accepted after the revoke: 0 (latest: none, 0.000 s)",
            f"  5xx by cause: {fivexx}",
            f"  transport failures (lost, reset, timeout, offline): {transport}",
            f"  other refusals: {other}",
            f"  browsers with no successful call in the last 60 s: {len(stuck)} {stuck[:10]}",
            f"  browsers that crashed (model errors): {len(self.errors)} {self.errors[:5]}",
            f"  refresh cycles per minute: {rotations / minutes:.1f}",
        ]
        print("\n".join(lines), flush=True)
        bad = bool(false_logouts) or reuse > 0 or (stale and max(stale) > 1.0) or rotations == 0 or bool(self.errors)
        if bad:
            print("soak FAILED", flush=True)
        return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--browsers", type=int, default=20)
    parser.add_argument("--short", action="store_true", help="the make-test run: 25 s, 8 browsers")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    random.seed(args.seed)
    soak = Soak(args)
    if args.short:
        # Every fault about once in 25 s (setting up takes ~20 s more on a busy 2-core machine).
        args.minutes, args.browsers = 25 / 60, 8
        soak.chaos.redis_restart_every, soak.chaos.worker_restart_every = 12, 9
        soak.chaos.offline_every, soak.chaos.lost_offline = 2, (11, 13)
        # Shorter tokens, so that a lost answer's recovery fits in the run.
        soak.lifetimes.update(AUTHSITE_SESSION_TOKEN_TTL_SECONDS="12", AUTHSITE_ACCESS_TOKEN_TTL_SECONDS="8")
    try:
        soak.start_site()
        status = asyncio.run(soak.run())
    finally:
        soak.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
