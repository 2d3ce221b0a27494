"""The store's circuit breaker: opens on the first Redis failure, probes after the interval."""
from __future__ import annotations

from typing import Any

from sessions_core.signals import store_degraded
from sessions_core.store.breaker import Breaker


def test_opens_once_and_probes_after_the_interval_whatever_else_fails_meanwhile() -> None:
    now = [100.0]
    seen: list[bool] = []

    def listener(sender: Any, degraded: bool, **kwargs: Any) -> None:
        seen.append(degraded)

    store_degraded.connect(listener)
    try:
        b = Breaker(clock=lambda: now[0])
        assert b.available() and not b.probe_due()
        b.trip()
        assert b.degraded and not b.available() and b.failed_since() is not None
        now[0] += 2.9
        b.trip()  # another caller failing meanwhile does not push the probe back
        assert not b.probe_due()
        now[0] += 0.2
        assert b.probe_due()
        b.reset()
        assert b.available()
        assert seen == [True, False]
    finally:
        store_degraded.disconnect(listener)
