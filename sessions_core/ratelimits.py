"""Rate limits through django-ratelimit's counters (on the Redis cache).

Checked before the work and counted after it, so that a sibling tab's replay
inside the refresh grace window is answered without using up the limit.
"""
from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from sessions_core import security_log
from sessions_core.client_ip import client_ip
from sessions_core.errors import RateLimited, StoreUnavailable
from sessions_core.store.client import REDIS_ERRORS

try:
    from django_redis.exceptions import ConnectionInterrupted
except ImportError:  # pragma: no cover
    ConnectionInterrupted = OSError  # type: ignore[misc,assignment]


def _usage(request: HttpRequest, group: str, rate: str, key: str, increment: bool) -> dict[str, int] | None:
    try:
        return get_usage(request, group=group, key=lambda _g, _r: key, rate=rate, increment=increment)  # type: ignore[no-any-return]
    except (ConnectionInterrupted, *REDIS_ERRORS) as e:
        raise StoreUnavailable() from e


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
