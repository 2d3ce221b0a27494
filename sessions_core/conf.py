"""One settings object for every number of the auth design.

Values come from ``settings.AUTHSITE`` (a dict) over the defaults below and are
read lazily on each access, so ``override_settings`` works and nothing is frozen
at import time. Names that shape the wire or the schema (cookie names, claim
names) are constants at the bottom, not settings.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Lifetimes (DESIGN.md, "Credentials and lifetimes").
    "SESSION_IDLE_TTL": timedelta(days=3),
    "SESSION_SLIDE_WHEN_REMAINING": timedelta(hours=24),
    "SESSION_ABSOLUTE_TTL": timedelta(days=30),
    "SESSION_TOKEN_TTL": timedelta(minutes=60),
    "ACCESS_TOKEN_TTL": timedelta(minutes=60),
    "REFRESH_GRACE": timedelta(seconds=10),
    "MAX_SESSIONS_PER_USER": 5,
    # A revoked session's Redis record stays as a tombstone this long, so its
    # tokens are refused from Redis without a database read.
    "REVOKED_TOMBSTONE_TTL": timedelta(minutes=60),
    # Activity: written to Redis on every call, flushed to SQL at most this often.
    "ACTIVITY_FLUSH_INTERVAL": timedelta(minutes=1),
    "HEARTBEAT_INTERVAL": timedelta(seconds=60),
    # Signing keys: a retired key still verifies for this long after retirement
    # (the longest token lifetime it can have signed).
    "KEY_CACHE_TTL": timedelta(seconds=60),
    # Cache-Control max-age of /.well-known/jwks.json. A new key is published for
    # this plus KEY_CACHE_TTL before it signs (signing_keys.prepublication).
    "JWKS_CACHE_MAX_AGE": timedelta(seconds=300),
    # Access token (JWT) claims.
    "JWT_ISSUER": "authsite",
    "JWT_AUDIENCE": "authsite-hub",
    "JWT_LEEWAY": timedelta(seconds=0),
    # Largest token the server will even try to parse (bytes).
    "MAX_TOKEN_LENGTH": 2048,
    # How far the ancestor check walks a refresh chain to tell reuse from garbage
    # (one HMAC a step). A session refreshed hourly for its 30 days makes ~720
    # generations; older tokens are answered ``refresh_invalid`` without a walk.
    "REFRESH_MAX_ANCESTRY": 1000,
    # Rate limits (django-ratelimit syntax), keyed as noted.
    "RATE_LOGIN": "20/m",  # per IP
    "RATE_REFRESH": "30/m",  # per session (grace replays do not count)
    "RATE_TOKEN": "60/m",  # per session
    # Refused refresh tokens (forged, unknown, malformed), counted per client IP
    # and per session id: each can cost an ancestor walk.
    "RATE_REFRESH_FAILURES": "10/m",
    # POST /hub/negotiate: per client IP before the token is checked, per session after.
    "RATE_NEGOTIATE": "60/m",
    # The admin's login form, per client IP (POSTs only).
    "RATE_ADMIN_LOGIN": "10/m",
    # Client IP: how many reverse proxies in front of the app append to
    # X-Forwarded-For. 0: the peer address (REMOTE_ADDR), the header ignored;
    # n: the n-th entry from the right (the address the outermost trusted proxy saw).
    "TRUSTED_PROXY_HOPS": 0,
    # Cookies.
    "COOKIE_SECURE": True,
    "COOKIE_SAMESITE": "Strict",
    "COOKIE_DOMAIN": None,
    # Redis.
    "REDIS_KEY_PREFIX": "as",
    "REDIS_SOCKET_TIMEOUT": 2.0,
    # Degraded mode (README, "Redis down, site up"). Connecting to Redis gives up
    # after this many seconds: a failure trips the circuit breaker at once.
    "REDIS_CONNECT_TIMEOUT": 0.5,
    # An open breaker sends no traffic to Redis for this long, then probes it.
    "STORE_BREAKER_OPEN": timedelta(seconds=3),
    # While degraded, a session row read from SQL is reused for this long in the
    # worker that read it: a revoke by another worker wins within this time.
    "STORE_DEGRADED_CACHE_TTL": timedelta(seconds=2),
    # On recovery, SQL changes from this long before the worker first saw Redis
    # fail are mirrored too (clock skew between workers, requests in flight).
    "STORE_RECONCILE_MARGIN": timedelta(seconds=60),
    # A thread per worker probes Redis while the breaker is open, so recovery
    # does not wait for traffic (tests that drive the probe themselves turn it off).
    "STORE_PROBE_THREAD": True,
    # Identity providers (issue: sign-in).
    "DISCORD_CLIENT_ID": "",
    "DISCORD_CLIENT_SECRET": "",
    "DISCORD_API_BASE": "https://discord.com/api/v10",
    "DISCORD_AUTHORIZE_URL": "https://discord.com/oauth2/authorize",
    "PLAYFAB_TITLE_ID": "",
    "PLAYFAB_SECRET_KEY": "",
    "PLAYFAB_API_BASE": "",
    "PROVIDER_TIMEOUT": 5.0,
    "PROVIDER_RETRIES": 2,
    "FAKE_PROVIDERS": None,  # None: on when DEBUG and no Discord credentials.
    # Operations. /metrics answers requests from these networks
    # (not through a proxy), or carrying ``Authorization: Bearer <METRICS_TOKEN>``.
    "METRICS_TOKEN": "",
    "METRICS_ALLOWED_NETS": ["127.0.0.0/8", "::1/128"],
    # `check --deploy` warns when the newest signing key is older than this.
    "SIGNING_KEY_MAX_AGE": timedelta(days=90),
    # `purge_expired_sessions` deletes rows this long after expiry or revocation.
    "SESSION_RETENTION": timedelta(days=30),
    # The redirect URI registered with Discord; empty: <origin>/auth/discord/callback
    # built from the request (set it when a proxy hides the public origin).
    "DISCORD_REDIRECT_URI": "",
    "DISCORD_SCOPES": "identify",
    # A pending sign-in (state, PKCE verifier, next) lives this long, used once.
    "OAUTH_STATE_TTL": timedelta(minutes=10),
    # Seconds one sign-in may spend on provider calls in all (retries and waits
    # included), so the callback page never hangs.
    "PROVIDER_BUDGET": 10.0,
    # The longest Retry-After the server waits out itself; a longer one ends the
    # attempt at once, with the hint on the error page.
    "PROVIDER_RETRY_AFTER_MAX": 5.0,
    # First back-off (seconds) after a 5xx or network error without Retry-After; doubles.
    "PROVIDER_BACKOFF": 0.5,
    # PlayFab session tickets last 24 h; a refresh renews one with less than this left.
    "PLAYFAB_TICKET_TTL": timedelta(hours=24),
    "PLAYFAB_RENEW_BEFORE": timedelta(hours=1),
    # Seconds a refresh may spend renewing the ticket (it answers either way).
    "PLAYFAB_RENEW_BUDGET": 3.0,
    # Realtime hub (realtime/). Keep-alive as in the SignalR protocol's defaults:
    # the server pings every 15 s; a client silent for 30 s is gone.
    "HUB_PING_INTERVAL": timedelta(seconds=15),
    "HUB_CLIENT_TIMEOUT": timedelta(seconds=30),
    "HUB_HANDSHAKE_TIMEOUT": timedelta(seconds=15),
    # `tokenExpiring` is sent this long before a connection's access token expires.
    "HUB_TOKEN_EXPIRING_BEFORE": timedelta(seconds=60),
    # A connection's presence lease, renewed on every ping tick: a worker that
    # dies leaves its users online at most this long.
    "HUB_CONNECTION_LEASE": timedelta(seconds=45),
    # `Heartbeat()` keeps its user online this long with no connection open.
    "HUB_HEARTBEAT_LEASE": timedelta(seconds=120),
    # How long a negotiated connection token waits for its WebSocket.
    "HUB_NEGOTIATE_TTL": timedelta(seconds=30),
    # Largest hub message accepted (ASP.NET's MaximumReceiveMessageSize default).
    "HUB_MAX_MESSAGE_BYTES": 32 * 1024,
    "HUB_MAX_GROUPS_PER_SESSION": 20,
    # Revocation fan-out stream (realtime/fanout.py): entries kept (approximate
    # MAXLEN). A worker that falls further behind than this re-checks every socket.
    "HUB_FANOUT_STREAM_LENGTH": 10_000,
    # Graceful drain (realtime/drain.py): after SIGTERM a worker closes its hub
    # sockets with a close that allows reconnect, then waits at most this long
    # for them to finish before it stops. Keep it below the orchestrator's kill
    # timeout (compose.yaml: stop_grace_period 20s).
    "HUB_DRAIN_TIMEOUT": timedelta(seconds=12),
    # ... closing them in batches over this long, so the workers that take them
    # over see a ramp of reconnects rather than all at once.
    "HUB_DRAIN_SPREAD": timedelta(seconds=5),
}

SESSION_COOKIE = "as_session"
REFRESH_COOKIE = "as_refresh"
REFRESH_COOKIE_PATH = "/auth/"
SESSION_COOKIE_PATH = "/"
# SignalR's name-identifier claim: ASP.NET's default user identifier claim type,
# so a hub written for ASP.NET finds the user where it expects it.
NAME_IDENTIFIER_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"


class AuthSettings:
    """Lazy view over ``settings.AUTHSITE`` with the defaults above."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown authsite setting {name!r}")
        user = getattr(settings, "AUTHSITE", {}) or {}
        return user.get(name, DEFAULTS[name])

    @property
    def fake_providers(self) -> bool:
        explicit = self.FAKE_PROVIDERS
        if explicit is not None:
            return bool(explicit) and settings.DEBUG
        return bool(settings.DEBUG) and not self.DISCORD_CLIENT_ID


auth_settings = AuthSettings()
