"""Rate limits through django-ratelimit's counters (on the Redis cache).

Checked before the work and counted after it, so that a sibling tab's replay
inside the refresh grace window is answered without using up the limit.

While the session store is degraded (Redis unreachable, its circuit breaker
open) the counters live in this worker's memory instead: the same rates and
fixed windows, counted per worker, so with N workers a client gets at most N
times the limit until Redis is back (README, "Redis down, site up").
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from sessions_core import security_log
from sessions_core.client_ip import client_ip
from sessions_core.errors import RateLimited
from sessions_core.store.breaker import breaker
from sessions_core.store.client import REDIS_ERRORS

try:
    from django_redis.exceptions import ConnectionInterrupted
except ImportError:  # pragma: no cover
    ConnectionInterrupted = OSError  # type: ignore[misc,assignment]

_RATE = re.compile(r"^(\d+)/(\d*)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"30/m"`` -> (30, 60), ``"5/10s"`` -> (5, 10): django-ratelimit's syntax. Raises ``ValueError``."""
    m = _RATE.match(rate)
    if m is None:
        raise ValueError(f"bad rate {rate!r}")
    return int(m.group(1)), int(m.group(2) or 1) * _UNIT[m.group(3)]


class LocalLimiter:
    """Fixed-window counters in process memory (the degraded-mode stand-in for the cache's)."""

    MAX_KEYS = 50_000

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        # The wall clock the windows are cut from (tests fix it instead of racing a boundary).
        self.clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, int], int] = {}

    def usage(self, group: str, rate: str, key: str, increment: bool) -> dict[str, int]:
        limit, period = parse_rate(rate)
        now = self.clock()
        window = int(now // period)
        slot = (group, key, window)
        with self._lock:
            if len(self._counts) >= self.MAX_KEYS:
                self._counts = {k: v for k, v in self._counts.items() if k[2] >= window - 1}
                if len(self._counts) >= self.MAX_KEYS:
                    self._counts.clear()
            count = self._counts.get(slot, 0) + (1 if increment else 0)
            if increment:
                self._counts[slot] = count
        return {
            "count": count, "limit": limit, "should_limit": count > limit,
            "time_left": max(1, int((window + 1) * period - now)),
        }

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


local = LocalLimiter()


def _usage(request: HttpRequest, group: str, rate: str, key: str, increment: bool) -> dict[str, int] | None:
    if breaker.available():
        try:
            return get_usage(request, group=group, key=lambda _g, _r: key, rate=rate, increment=increment)  # type: ignore[no-any-return]
        except (ConnectionInterrupted, *REDIS_ERRORS):
            breaker.trip()
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        return None
    return local.usage(group, rate, key, increment)


def usage(request: HttpRequest, *, group: str, rate: str, key: str, increment: bool = True) -> dict[str, int] | None:
    """django-ratelimit's usage dict for ``key`` (sync callers such as the admin's login
    view); the per-worker counters while degraded; ``None`` when rate limits are off."""
    return _usage(request, group, rate, key, increment)


async def check(request: HttpRequest, *, group: str, rate: str, key: str, increment: bool = True) -> None:
    """Raise ``RateLimited`` (with Retry-After) if ``key`` is over ``rate`` in ``group``."""
    usage = await sync_to_async(_usage)(request, group, rate, key, increment)
    # Without incrementing, this request is not counted yet: refuse when it would be one too many.
    if usage is None:
        return
    if usage["should_limit"] if increment else usage["count"] >= usage["limit"]:
        security_log.event("ratelimit.hit", group=group, key_id=key[:64], ip=client_ip(request))
        raise RateLimited(retry_after=max(1, int(usage.get("time_left", 1))))


async def count(request: HttpRequest, *, group: str, rate: str, key: str) -> None:
    """Count one request against ``group`` without refusing it."""
    await sync_to_async(_usage)(request, group, rate, key, True)
