"""The session store's circuit breaker: one per worker process.

Closed: every call goes to Redis. The first Redis failure (refused or timed-out
connection, a dead Sentinel master, a Cluster that is down) opens it: for
``STORE_BREAKER_OPEN`` no call is sent to Redis, and the store facade answers
from SQL (degraded mode). Then a probe pings Redis; when Redis answers, the
probe first mirrors into Redis what SQL decided meanwhile
(:func:`sessions_core.store.recovery.reconcile`) and only then closes the
breaker, so no request of this worker reads Redis data older than SQL's.

The probe runs in a daemon thread of its own (``STORE_PROBE_THREAD``), so a
worker recovers within one probe interval of Redis's return whether or not it
has traffic; tests may call :meth:`Breaker.probe` themselves.

Each change of state is announced with ``signals.store_degraded`` (metrics and
readiness listen); :attr:`Breaker.epoch` counts recoveries, so a long-lived
holder of Redis state (a hub connection's group memberships and presence) can
tell that it must write it again.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone as dt_timezone
from typing import TYPE_CHECKING

from django.db import DatabaseError, close_old_connections

from sessions_core.conf import auth_settings
from sessions_core.signals import store_degraded

if TYPE_CHECKING:
    from sessions_core.store import recovery

log = logging.getLogger(__name__)


class Breaker:
    """Thread-safe breaker state with an injectable clock (``monotonic``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._open = False
        self._retry_at = 0.0
        self._failed_since: datetime | None = None
        self._late_since: datetime | None = None
        self._prober: threading.Thread | None = None
        self._probing = threading.Lock()
        self.epoch = 0

    @property
    def degraded(self) -> bool:
        """True while the breaker is open (the store answers from SQL)."""
        return self._open

    def available(self) -> bool:
        """True if calls may go to Redis."""
        return not self._open

    def failed_since(self) -> datetime | None:
        """Wall-clock time of the first failure of the current outage (``None`` when closed)."""
        return self._failed_since

    def trip(self) -> None:
        """Record a Redis failure: open the breaker (already open: nothing changes, so callers
        that still try Redis meanwhile never push the probe back)."""
        with self._lock:
            if self._open:
                return
            self._retry_at = self._clock() + auth_settings.STORE_BREAKER_OPEN.total_seconds()
            self._open = True
            self._failed_since = datetime.now(dt_timezone.utc)
            start_thread = bool(auth_settings.STORE_PROBE_THREAD) and (
                self._prober is None or not self._prober.is_alive()
            )
            if start_thread:
                self._prober = threading.Thread(target=self._probe_loop, name="authsite-store-probe", daemon=True)
        log.warning("session store: Redis unreachable, serving sessions from SQL (degraded mode)")
        store_degraded.send(sender=Breaker, degraded=True)
        if start_thread and self._prober is not None:
            self._prober.start()

    def probe_due(self) -> bool:
        return self._open and self._clock() >= self._retry_at

    def probe(self) -> bool:
        """Ping Redis; if it answers, mirror SQL's changes and close. True if closed afterwards.

        Never raises for Redis or database trouble (the breaker then stays open and
        the next probe tries again).
        """
        from sessions_core.store import recovery
        from sessions_core.store.client import REDIS_ERRORS, get_redis

        if not self._open:
            return True
        with self._probing:
            if not self._open:
                return True
            since = self._failed_since or datetime.now(dt_timezone.utc)
            try:
                get_redis().ping()
                replayed = recovery.reconcile(since=since - auth_settings.STORE_RECONCILE_MARGIN)
            except (*REDIS_ERRORS, DatabaseError) as e:
                with self._lock:
                    self._retry_at = self._clock() + auth_settings.STORE_BREAKER_OPEN.total_seconds()
                log.info("session store: probe failed (%s); still degraded", type(e).__name__)
                return False
            with self._lock:
                self._open = False
                self._failed_since = None
                self.epoch += 1
            self._late_since = since
        log.warning("session store: Redis is back; %d change(s) made while degraded mirrored", replayed.mirrored)
        store_degraded.send(sender=Breaker, degraded=False)
        # A request that found the breaker open just before it closed may commit its
        # SQL-only change after the query above read: mirror once more now that no
        # new request skips Redis (the probe thread runs one more pass a little later).
        replayed.merge(self.late_pass())
        # After the close: the hub fan-out goes through Redis, which is usable again.
        recovery.announce(replayed)
        return True

    def late_pass(self) -> "recovery.Replayed":
        """Mirror again what changed since the last outage began (idempotent); what it mirrored.

        Raises nothing for Redis or database trouble: the changes stay in SQL, where a
        miss or the next outage's recovery finds them.
        """
        from sessions_core.store import recovery
        from sessions_core.store.client import REDIS_ERRORS

        since = self._late_since
        if since is None:
            return recovery.Replayed()
        try:
            return recovery.reconcile(since=since - auth_settings.STORE_RECONCILE_MARGIN)
        except (*REDIS_ERRORS, DatabaseError) as e:
            log.warning("session store: late recovery pass failed (%s)", type(e).__name__)
            return recovery.Replayed()

    def _probe_loop(self) -> None:
        from sessions_core.store import recovery

        while self._open:
            wait = max(0.05, self._retry_at - self._clock())
            time.sleep(min(wait, auth_settings.STORE_BREAKER_OPEN.total_seconds()))
            if not self.probe_due():
                continue
            try:
                if self.probe():
                    # Requests in flight when the breaker closed have finished by now.
                    time.sleep(auth_settings.REDIS_SOCKET_TIMEOUT)
                    if self.available():
                        recovery.announce(self.late_pass())
            finally:
                close_old_connections()

    def reset(self) -> None:
        """Close without reconciling (tests)."""
        with self._lock:
            was_open = self._open
            self._open = False
            self._failed_since = None
        if was_open:
            store_degraded.send(sender=Breaker, degraded=False)


breaker = Breaker()

