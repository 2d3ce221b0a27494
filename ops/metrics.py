"""Prometheus metrics (prometheus_client) and the ``/metrics`` endpoint.

Counters are driven by signals, not by calls sprinkled through the core: every
security-log event (``signals.security_event``) and every revocation
(``signals.session_revoked``). Latency histograms wrap the two hot functions
(observers of the core's ``instrument.timed`` hooks on the session-token
authentication and ``session_refresh``). Active sessions are counted from the database when
scraped; open hub connections are a gauge moved by the hub's
``hub_connection_opened``/``closed`` signals; ``authsite_store_degraded`` follows
the session store's circuit breaker (``signals.store_degraded``).

Processes: with ``PROMETHEUS_MULTIPROC_DIR`` set in the environment of every
worker and of ``manage.py`` (one directory per host, emptied at deploy), any
worker's ``/metrics`` answers for all of them, counting what short-lived
processes did (a ``manage.py revoke_sessions`` shows in the revocations), in
prometheus_client's multiprocess mode; a worker's live gauges leave the sum when
it exits. ``make run`` sets it up (``.run/prometheus``; settings adopt it for
``manage.py`` acting on that site). Without it, each process counts on its own.

Every labelled counter starts with its known label values at zero, so a
series exists (and ``rate()``/``increase()`` work) before its first event; the
client library's ``*_created`` series are off.

Access: loopback (``METRICS_ALLOWED_NETS``) when the request did not come
through a proxy, or ``Authorization: Bearer <METRICS_TOKEN>`` from anywhere.
"""
from __future__ import annotations

import atexit
import hmac
import ipaddress
import os
from collections.abc import Iterator
from typing import Any

from django.db import DatabaseError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from sessions_core.conf import auth_settings
from sessions_core.errors import AuthError, Forbidden
from sessions_core.instrument import add_observer
from sessions_core.models import RevokeReason
from sessions_core.reasons import ReuseCause
from sessions_core.signals import security_event, session_revoked, store_degraded

from realtime.signals import hub_connection_closed, hub_connection_opened

# Latency buckets (seconds): the validate hot path is a Redis round trip (sub-ms to
# a few ms); a refresh writes SQL and Redis (a few ms to tens of ms).
_VALIDATE_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_REFRESH_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

# One timestamp series per counter: noise on every dashboard, and Prometheus does not need it.
disable_created_metrics()

SIGNINS = Counter(
    "authsite_signins", "Sign-ins through an identity provider, by outcome (succeeded, failed, refused).", ["outcome"]
)
SESSIONS_CREATED = Counter("authsite_sessions_created", "Sessions created (sign-ins and issue_session).")
REFRESHES = Counter(
    "authsite_refreshes",
    "Successful refreshes: rotated (the winner), grace (a concurrent replay answered idempotently) "
    "or lost_answer_recovered (a lost answer handed out again).",
    ["outcome"],
)
REFRESH_FAILURES = Counter("authsite_refresh_failures", "Refused refreshes, by error code.", ["code"])
REUSE_DETECTIONS = Counter(
    "authsite_refresh_reuse_detections", "Rotated refresh tokens presented outside the grace window, by cause.", ["cause"]
)
REVOCATIONS = Counter("authsite_revocations", "Sessions revoked, by reason.", ["reason"])
HUB_REFUSED = Counter("authsite_hub_refused", "Hub connections refused at the handshake, by error code.", ["reason"])
RATELIMIT_HITS = Counter("authsite_ratelimit_hits", "Requests refused by a rate limit, by group.", ["group"])
SECURITY_EVENTS = Counter("authsite_security_events", "Security-log events, by name.", ["event"])
HUB_CONNECTIONS = Gauge(
    "authsite_hub_connections", "Open realtime hub connections.", multiprocess_mode="livesum"
)
STORE_DEGRADED = Gauge(
    "authsite_store_degraded",
    "1 while the session store's circuit breaker is open (Redis unreachable, sessions served from SQL).",
    multiprocess_mode="max",
)
VALIDATE_SECONDS = Histogram(
    "authsite_validate_seconds", "Time to authenticate a request's session token.", buckets=_VALIDATE_BUCKETS
)
REFRESH_SECONDS = Histogram("authsite_refresh_seconds", "Time to answer a refresh.", buckets=_REFRESH_BUCKETS)


# Label values known in advance: each series exists at 0 from the first scrape.
KNOWN_LABELS: dict[Counter, tuple[str, ...]] = {
    SIGNINS: ("succeeded", "failed", "refused"),
    REFRESHES: ("rotated", "grace"),
    REFRESH_FAILURES: (
        "refresh_invalid", "refresh_reused", "session_expired", "session_revoked", "rate_limited", "store_unavailable",
    ),
    REUSE_DETECTIONS: tuple(c.value for c in ReuseCause if c != ReuseCause.CONCURRENT_REFRESH),
    REVOCATIONS: tuple(r.value for r in RevokeReason),
    HUB_REFUSED: ("token_invalid", "token_expired", "session_revoked", "session_expired", "store_unavailable"),
    RATELIMIT_HITS: ("auth.login", "auth.refresh", "auth.token"),
}
for _counter, _values in KNOWN_LABELS.items():
    for _value in _values:
        _counter.labels(_value)


# --- instrumentation -------------------------------------------------------------------


# Security-log event names of the sign-in flow -> outcome label.
_SIGNIN_OUTCOMES = {
    "signin.completed": "succeeded", "signin.succeeded": "succeeded",
    "signin.failed": "failed", "signin.refused": "refused",
}


@receiver(security_event, dispatch_uid="authsite.metrics.security_event")
def _on_security_event(sender: Any, name: str, fields: dict[str, Any], **kwargs: Any) -> None:
    SECURITY_EVENTS.labels(event=name).inc()
    if name in _SIGNIN_OUTCOMES:
        SIGNINS.labels(outcome=_SIGNIN_OUTCOMES[name]).inc()
    elif name == "hub.refused":
        HUB_REFUSED.labels(reason=str(fields.get("reason") or "unknown")).inc()
    elif name == "session.created":
        SESSIONS_CREATED.inc()
    elif name == "refresh.rotated":
        REFRESHES.labels(outcome="rotated").inc()
    elif name == "refresh.recovered":
        # A lost answer handed out again (its successor never used): not reuse.
        REFRESHES.labels(outcome="lost_answer_recovered").inc()
    elif name == "refresh.reuse":
        cause = str(fields.get("cause") or "unknown")
        if cause == ReuseCause.CONCURRENT_REFRESH:
            # Inside the grace window: not reuse, the idempotent answer to a sibling tab.
            REFRESHES.labels(outcome="grace").inc()
        else:
            REUSE_DETECTIONS.labels(cause=cause).inc()
    elif name == "ratelimit.hit":
        RATELIMIT_HITS.labels(group=str(fields.get("group") or "unknown")).inc()


@receiver(session_revoked, dispatch_uid="authsite.metrics.session_revoked")
def _on_session_revoked(sender: Any, reason: str, replayed: bool = False, **kwargs: Any) -> None:
    if not replayed:  # a replay after degraded mode was counted when it happened
        REVOCATIONS.labels(reason=str(reason)).inc()


@receiver(store_degraded, dispatch_uid="authsite.metrics.store_degraded")
def _on_store_degraded(sender: Any, degraded: bool, **kwargs: Any) -> None:
    STORE_DEGRADED.set(1 if degraded else 0)


def _observe_validate(seconds: float, error: AuthError | None) -> None:
    VALIDATE_SECONDS.observe(seconds)


def _observe_refresh(seconds: float, error: AuthError | None) -> None:
    REFRESH_SECONDS.observe(seconds)
    if error is not None:
        REFRESH_FAILURES.labels(code=error.code).inc()


add_observer("validate", _observe_validate)
add_observer("refresh", _observe_refresh)


@receiver(hub_connection_opened, dispatch_uid="authsite.metrics.hub_opened")
def _on_hub_opened(sender: Any, **kwargs: Any) -> None:
    HUB_CONNECTIONS.inc()


@receiver(hub_connection_closed, dispatch_uid="authsite.metrics.hub_closed")
def _on_hub_closed(sender: Any, **kwargs: Any) -> None:
    HUB_CONNECTIONS.dec()


# --- scrape-time gauges ----------------------------------------------------------------


class ActiveSessionsCollector(Collector):
    """``authsite_active_sessions``: live sessions in the database (one indexed COUNT per scrape)."""

    NAME = "authsite_active_sessions"
    HELP = "Active, unexpired sessions (database, all workers)."

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Describing without collecting keeps registration free of database access.
        yield GaugeMetricFamily(self.NAME, self.HELP)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from sessions_core.models import AuthSession, SessionState

        now = timezone.now()
        try:
            count = AuthSession.objects.filter(
                state=SessionState.ACTIVE, expires_at__gt=now, absolute_expires_at__gt=now
            ).count()
        except DatabaseError:
            # An unreachable database leaves the series out of this scrape (Prometheus
            # marks it stale) rather than reporting a false zero.
            return
        yield GaugeMetricFamily(self.NAME, self.HELP, value=count)


_ACTIVE_SESSIONS = ActiveSessionsCollector()
REGISTRY.register(_ACTIVE_SESSIONS)

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # A worker that exits cleanly stops counting towards the live gauges (a crashed
    # one counts until the directory is wiped, which deploys do).
    atexit.register(multiprocess.mark_process_dead, os.getpid())


def registry() -> CollectorRegistry:
    """The registry a scrape reads: this process's, or every worker's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        merged.register(_ACTIVE_SESSIONS)
        return merged
    return REGISTRY


# --- endpoint --------------------------------------------------------------------------


def _from_allowed_net(request: HttpRequest) -> bool:
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        # Came through a proxy: REMOTE_ADDR is the proxy's, not the scraper's.
        return False
    try:
        addr = ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "")
    except ValueError:
        return False
    for net in auth_settings.METRICS_ALLOWED_NETS:
        if addr in ipaddress.ip_network(net, strict=False):
            return True
    return False


def scrape_allowed(request: HttpRequest) -> bool:
    """True if ``request`` carries the metrics bearer token or comes straight from an allowed network."""
    token = str(auth_settings.METRICS_TOKEN or "")
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        presented = header[7:].strip()
        return bool(token) and hmac.compare_digest(presented.encode(), token.encode())
    return _from_allowed_net(request)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition; 403 JSON unless :func:`scrape_allowed`."""
    if not scrape_allowed(request):
        err = Forbidden("Metrics are served to allowed networks or with the metrics token.")
        resp: HttpResponse = JsonResponse(err.as_dict(), status=err.status)
    else:
        # Prometheus text format, or OpenMetrics when the scraper asks for it.
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        resp = HttpResponse(encode(registry()), content_type=content_type)
    resp["Cache-Control"] = "no-store"
    return resp
