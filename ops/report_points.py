"""The rows of ``auth_report``: every point of both source documents, judged live.

``architecture_points``: the ten sections of the target architecture (refs 1.1-10.7).
``resilience_points``: the layers (L1-L6), root causes (R5, R6), scenarios (S1-S6) and
technical parameters (P1-P8) of the resilience notes. Each row's status comes
from the :class:`~ops.report.Probe` and the settings object, never a constant
where the answer depends on this deployment.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings

from ops.report import (
    BROWSER, CONFIGURED, DIFFERS, IMPLEMENTED, MISSING, NOT_CONFIGURED, STATUSES, UNAVAILABLE, Point, Probe, human,
    secret_state,
)
from ops.report_live import verification_points
from sessions_core.conf import auth_settings

A = "architecture"
R = "resilience"


def _setting(s: Any, name: str) -> Any:
    """A setting that only some versions of this deployment define (``-`` when absent)."""
    try:
        return getattr(s, name)
    except AttributeError:
        return "-"


def _on(ok: bool) -> str:
    return CONFIGURED if ok else NOT_CONFIGURED


def _routes(probe: Probe, *paths: str) -> tuple[bool, str]:
    missing = [p for p in paths if not probe.url(p)]
    return (not missing, f"routes missing: {', '.join(missing)}" if missing else "")


def _browser(module: str, test: str) -> tuple[str, str]:
    """A point the browser code carries: not a fact a deployment can state, so the row
    names the module and the browser test that exercises it instead of a status guess."""
    return BROWSER, f"browser code (static/js/{module}); exercised by tests/browser/{test}"


def _number(actual: Any, target: Any, setting: str, unit: Callable[[Any], str] = human) -> tuple[str, str]:
    if actual is None:
        return MISSING, f"{setting} is not defined in this deployment"
    if actual == target:
        return CONFIGURED, f"{setting} = {unit(actual)}, as the target says"
    return DIFFERS, f"{setting} = {unit(actual)} (target: {unit(target)})"


def architecture_points(probe: Probe, s: Any) -> list[Point]:
    """Sections 1-10 of the target architecture."""
    fake = s.fake_providers
    discord = bool(s.DISCORD_CLIENT_ID and s.DISCORD_CLIENT_SECRET)
    playfab = bool(s.PLAYFAB_TITLE_ID and s.PLAYFAB_SECRET_KEY)
    redis_ok, redis_desc = probe.redis
    layer_ok, layer_backend = probe.channel_layer
    hub = probe.hub_routes > 0
    rl = bool(getattr(settings, "RATELIMIT_ENABLE", True))
    keys = probe.signing_keys
    login_ok, login_missing = _routes(probe, "/auth/discord/login", "/auth/discord/callback")
    idp = {"DISCORD_CLIENT_ID": secret_state(s.DISCORD_CLIENT_ID), "DISCORD_CLIENT_SECRET": secret_state(s.DISCORD_CLIENT_SECRET),
           "fake providers": human(fake), "DEBUG": human(settings.DEBUG)}
    pf = {"PLAYFAB_TITLE_ID": secret_state(s.PLAYFAB_TITLE_ID), "PLAYFAB_SECRET_KEY": secret_state(s.PLAYFAB_SECRET_KEY), "fake providers": human(fake)}

    def idp_status(real: bool) -> str:
        if not login_ok:
            return MISSING
        return CONFIGURED if real and not fake else NOT_CONFIGURED

    def idp_now(name: str, real: bool, how: str) -> str:
        if not login_ok:
            return login_missing
        return how if real and not fake else f"{name} not configured; " + ("the built-in fake serves sign-in (development)" if fake else "sign-in cannot complete")

    store_status = IMPLEMENTED if redis_ok else UNAVAILABLE
    redis_set = {"REDIS_URL": redis_desc, "answers": human(redis_ok)}
    p: list[Point] = []
    add = p.append

    sec = "1 Initial Authentication Flow"
    add(Point("1.1", sec, "User logs in via Discord OAuth", idp_status(discord),
              idp_now("Discord", discord, "authorization-code flow with state and PKCE (S256) at /auth/discord/login"), idp,
              "adds PKCE and a one-time state; lands through a same-site page so SameSite=Strict cookies arrive"))
    add(Point("1.2", sec, "Server validates the Discord token and gets user info", idp_status(discord),
              idp_now("Discord", discord, "the code is exchanged server-side and /users/@me fetched; the user is linked by Discord id"), idp))
    add(Point("1.3", sec, "PlayFab authentication with this info", idp_status(playfab),
              idp_now("PlayFab", playfab, "LoginWithServerCustomId keyed by the Discord id, with X-SecretKey"), pf))
    add(Point("1.4", sec, "Session token: session id, user id, expiry; signed with a server secret; short", IMPLEMENTED,
              "`<sid>.<uid>.<exp>.<kid>:<HMAC-SHA256>` in an HttpOnly cookie", {"SESSION_TOKEN_TTL": human(s.SESSION_TOKEN_TTL)},
              "signed with the HMAC secret of a rotating key (kid), not SECRET_KEY itself"))
    add(Point("1.5", sec, "Access token: same data as a JWT with SignalR-specific claims", IMPLEMENTED,
              "EdDSA JWT, typ at+jwt, kid header, sub/sid/jti/tv and the SignalR name-identifier claim",
              {"ACCESS_TOKEN_TTL": human(s.ACCESS_TOKEN_TTL), "JWT_AUDIENCE": s.JWT_AUDIENCE, "JWT_ISSUER": s.JWT_ISSUER},
              "audience-bound to the hub, so it is good for nothing else"))
    add(Point("1.6", sec, "Server session holds PlayFab ticket, user id, expiry (e.g. 3 days), last active, both token references",
              DIFFERS,
              "session row (SQL) + hot copy (Redis): user, state, idle and absolute expiry, last active, device, refresh-token HMACs",
              {"SESSION_IDLE_TTL": human(s.SESSION_IDLE_TTL), "SESSION_ABSOLUTE_TTL": human(s.SESSION_ABSOLUTE_TTL)},
              "no token is stored, only HMACs of the refresh secret; the PlayFab ticket is encrypted in the SQL row only, never in Redis"
              + ("" if s.SESSION_IDLE_TTL == timedelta(days=3) else f"; idle expiry is {human(s.SESSION_IDLE_TTL)}, not 3 days")))

    sec = "2 Session Storage (Client-side)"
    secure_ok = bool(s.COOKIE_SECURE) and s.COOKIE_SAMESITE == "Strict"
    add(Point("2.1", sec, "HttpOnly cookie for the session token, Secure, SameSite=Strict, not readable by JS", _on(secure_ok),
              f"HttpOnly always; Secure {human(bool(s.COOKIE_SECURE))}; SameSite={s.COOKIE_SAMESITE}; refresh cookie scoped to /auth/",
              {"COOKIE_SECURE": human(bool(s.COOKIE_SECURE)), "COOKIE_SAMESITE": str(s.COOKIE_SAMESITE)},
              "" if secure_ok else "cookie flags weaker than the target's"))
    st, now = _browser("auth-state.js", "test_signin.py")
    add(Point("2.2", sec, "localStorage for non-sensitive data (preferences, UI state, last active, access token)", st, now))

    sec = "3 Session Storage (Server-side)"
    add(Point("3.1", sec, "Redis tracks active sessions, keyed by session id", store_status,
              f"one hash per session under the user's hash tag ({redis_desc})", redis_set,
              "key `<prefix>:{u<uid>}:s:<sid>`: all of a user's keys share a Cluster slot"))
    add(Point("3.2", sec, "Value: JSON with session data, PlayFab ticket, token references, last activity, connection state", DIFFERS,
              "a Redis hash (state, expiries, token version, last active, refresh HMACs, display fields); connections in a per-user hash",
              {}, "hash fields instead of a JSON blob (atomic per-field updates in scripts); no ticket and no tokens in Redis"))
    add(Point("3.3", sec, "TTL matches session expiry", store_status, "PEXPIREAT = min(idle, absolute expiry); revoked records stay as tombstones",
              {"REVOKED_TOMBSTONE_TTL": human(s.REVOKED_TOMBSTONE_TTL), **redis_set}))
    add(Point("3.4", sec, "Validate sessions without constant PlayFab calls", store_status,
              "one Redis round trip authenticates a request; PlayFab is called at sign-in and ticket renewal only", redis_set))
    add(Point("3.5", sec, "Maintains token validity state", store_status,
              "per-user token version and a jti blacklist in Redis; a Redis miss rehydrates from SQL", redis_set))

    sec = "4 Session Refresh Logic"
    st, now = _browser("token-service.js", "test_signin.py")
    add(Point("4.1", sec, "Check session validity on each page load", st, now))
    add(Point("4.2", sec, "Valid but nearing expiry (< 24 h): refresh PlayFab, new tokens, update Redis, cookie and SignalR token",
              *_number(s.SESSION_SLIDE_WHEN_REMAINING, timedelta(hours=24), "SESSION_SLIDE_WHEN_REMAINING"),
              {"SESSION_SLIDE_WHEN_REMAINING": human(s.SESSION_SLIDE_WHEN_REMAINING),
               "PLAYFAB_RENEW_BEFORE": human(_setting(s, "PLAYFAB_RENEW_BEFORE"))},
              "never past the absolute lifetime; tokens rotate on every refresh, not only near expiry"))
    st, now = _browser("session-actions.js", "test_signout.py")
    add(Point("4.3", sec, "Expired: clear client storage, close SignalR, redirect to login", st, now))

    sec = "5 Activity Tracking"
    add(Point("5.1", sec, "Update last active on API calls, SignalR messages, UI interactions", store_status,
              "every authenticated call writes it in Redis (same round trip); hub traffic and the heartbeat too",
              {"HEARTBEAT_INTERVAL": human(s.HEARTBEAT_INTERVAL), **redis_set}))
    add(Point("5.2", sec, "Store the timestamp in Redis and localStorage", store_status,
              "Redis on every call, SQL at most once per interval (and `manage.py flush_activity`)",
              {"ACTIVITY_FLUSH_INTERVAL": human(s.ACTIVITY_FLUSH_INTERVAL)}, "flushed to SQL too, so a Redis loss keeps it"))
    add(Point("5.3", sec, "Use for online status tracking", IMPLEMENTED if hub else MISSING,
              "presence in Redis, kept by hub connections and Heartbeat()" if hub else "no realtime hub is mounted", {}))
    add(Point("5.4", sec, "Token validation includes an activity check", IMPLEMENTED,
              "idle expiry is checked on every validation; unused sessions end", {"SESSION_IDLE_TTL": human(s.SESSION_IDLE_TTL)}))

    sec = "6 SignalR Authentication"
    tok_ok, tok_missing = _routes(probe, "/auth/token")
    add(Point("6.1", sec, "accessTokenFactory fetches/refreshes the access token", IMPLEMENTED if tok_ok else MISSING,
              "POST /auth/token mints one for the current session" if tok_ok else tok_missing, {"RATE_TOKEN": str(s.RATE_TOKEN)}))
    add(Point("6.2", sec, "Validate before WebSocket upgrade: signature, expiry, session in Redis, required claims",
              (IMPLEMENTED if redis_ok else UNAVAILABLE) if hub else MISSING,
              "handshake middleware checks signature, kid, expiry, audience, claims, blacklist, session, token version"
              if hub else "no realtime hub is mounted", redis_set))
    add(Point("6.3", sec, "Connection state in Redis; reconnect with the same session; auto-refresh the token",
              (IMPLEMENTED if layer_ok else UNAVAILABLE) if hub else MISSING,
              f"connections in Redis, in-band token renewal, revocations fanned out over {layer_backend}" if hub else "no realtime hub is mounted",
              {"channel layer": layer_backend, "delivers": human(layer_ok)}))

    sec = "7 Multi-tab Handling"
    for ref, point, module, test in (
        ("7.1", "BroadcastChannel syncs session state", "sync.js", "test_signin.py"),
        ("7.2", "Share the SignalR connection via a SharedWorker", "realtime-worker.js", "test_realtime_connection.py"),
        ("7.3", "Coordinate token refresh across tabs (single source of truth)", "lock.js", "test_cross_tab_refresh.py"),
        ("7.4", "Handle logout across all tabs", "session-actions.js", "test_signout.py"),
    ):
        add(Point(ref, sec, point, *_browser(module, test)))

    sec = "8 Token Refresh Flow"
    st, now = _browser("token-service.js, realtime-worker.js", "test_token_renewal.py")
    add(Point("8.1", sec, "Monitored by the shared worker; refresh when the token nears expiry", st, now))
    add(Point("8.2", sec, "Server validates the current session before issuing tokens", IMPLEMENTED,
              "refresh checks state, expiry and the refresh family in SQL (conditional UPDATE) and Redis"))
    add(Point("8.3", sec, "Update Redis, cookie, localStorage; broadcast to all tabs", IMPLEMENTED,
              "server rotates in SQL+Redis and sets cookies; the winning tab broadcasts the answer (tests/browser/test_cross_tab_refresh.py)"))
    grace_ok = timedelta(0) < s.REFRESH_GRACE <= timedelta(minutes=1)
    add(Point("8.4", sec, "Handle race conditions in multi-tab scenarios", _on(grace_ok),
              f"grace window {human(s.REFRESH_GRACE)}: concurrent refreshes get the identical pair" if grace_ok else "grace window off or too long",
              {"REFRESH_GRACE": human(s.REFRESH_GRACE)}))

    sec = "9 Security Considerations"
    add(Point("9.1", sec, "Session token never exposed to JavaScript", IMPLEMENTED, "HttpOnly cookie; never in a response body"))
    add(Point("9.2", sec, "Access token only used for SignalR", IMPLEMENTED, "JWT audience is the hub; HTTP endpoints take only the cookie",
              {"JWT_AUDIENCE": s.JWT_AUDIENCE}))
    lt = probe.lifetime_problems
    add(Point("9.3", sec, "All tokens have appropriate expiry", _on(not lt), "; ".join(lt) or "access < session idle < absolute lifetime",
              {"ACCESS_TOKEN_TTL": human(s.ACCESS_TOKEN_TTL), "SESSION_TOKEN_TTL": human(s.SESSION_TOKEN_TTL),
               "SESSION_IDLE_TTL": human(s.SESSION_IDLE_TTL), "SESSION_ABSOLUTE_TTL": human(s.SESSION_ABSOLUTE_TTL)}))
    add(Point("9.4", sec, "Tokens invalidated on logout", store_status, "logout revokes the session and blacklists its access tokens", redis_set))
    add(Point("9.5", sec, "Token blacklist in Redis", store_status, "revoked jtis until their natural expiry", redis_set))
    add(Point("9.6", sec, "Rate limiting on token refresh", _on(rl), "django-ratelimit on the Redis cache; 429 with Retry-After" if rl else "rate limits are off",
              {"RATELIMIT_ENABLE": human(rl), "RATE_REFRESH": str(s.RATE_REFRESH), "RATE_TOKEN": str(s.RATE_TOKEN), "RATE_LOGIN": str(s.RATE_LOGIN)},
              "" if rl else "rate limits are switched off in this deployment"))
    add(Point("9.7", sec, "Secure token generation", IMPLEMENTED, "secrets module (256-bit refresh secrets), Ed25519 keys"))

    sec = "10 Implementation Notes"
    add(Point("10.1", sec, "Keep token payload minimal", IMPLEMENTED, "ids, times, token version and the display name only"))
    add(Point("10.2", sec, "Different token formats for different purposes", IMPLEMENTED, "signed string, JWT and opaque refresh token, each with its own salt/audience"))
    age = keys.get("newest_age_days")
    fresh = keys.get("readable", False) and (age is None or age <= s.SIGNING_KEY_MAX_AGE.days)
    add(Point("10.3", sec, "Token version / rotation capability", _on(bool(fresh)),
              (f"per-user token version; {keys['active']} active and {keys['retired']} retired signing key(s), newest {age} day(s) old"
               if age is not None else "per-user token version; no signing key yet (the first is made on first use)")
              if keys.get("readable") else "signing keys unreadable (database)",
              {"SIGNING_KEY_MAX_AGE": human(s.SIGNING_KEY_MAX_AGE)}, "" if fresh else "rotate with `manage.py rotate_signing_key`"))
    add(Point("10.4", sec, "Proper error handling for all token operations", IMPLEMENTED, "one error hierarchy, stable JSON codes, SignalR closes that say why"))
    add(Point("10.5", sec, "Log suspicious token activities", _on(probe.security_log_routed),
              "JSON events on logger authsite.security (reuse, revocations, rate limits, refused handshakes)"
              if probe.security_log_routed else "authsite.security is not routed to any handler at INFO"))
    add(Point("10.6", sec, "Token revocation capability", IMPLEMENTED, "per session, per user, token version; API, admin and `manage.py revoke_sessions`"))
    add(Point("10.7", sec, "Refresh tokens for longer sessions", IMPLEMENTED, "rotating refresh tokens with reuse detection, one family per session",
              {"SESSION_ABSOLUTE_TTL": human(s.SESSION_ABSOLUTE_TTL)}))
    return p


def resilience_points(probe: Probe, s: Any) -> list[Point]:
    """Layers, root causes, scenarios and parameters of the resilience notes."""
    grace_ok = timedelta(0) < s.REFRESH_GRACE <= timedelta(minutes=1)
    p: list[Point] = []
    add = p.append
    sec = "Layers"
    add(Point("L1", sec, "Visibility-aware token service", *_browser("page-watch.js", "test_resilience.py")))
    add(Point("L2", sec, "Refresh-first strategy", *_browser("token-service.js", "test_resilience.py")))
    ok, missing = _routes(probe, "/auth/validate", "/auth/refresh")
    add(Point("L3", sec, "Backend auto-refresh in validate", IMPLEMENTED if ok else MISSING,
              "/auth/validate refreshes from the refresh cookie instead of answering 401" if ok else missing))
    add(Point("L4", sec, "Cross-tab refresh coordination", *_browser("lock.js", "test_cross_tab_refresh.py")))
    add(Point("L5", sec, "Backend idempotent refresh", DIFFERS if grace_ok else NOT_CONFIGURED,
              f"the immediate predecessor inside {human(s.REFRESH_GRACE)} gets the identical current pair" if grace_ok else "grace window off",
              {"REFRESH_GRACE": human(s.REFRESH_GRACE)},
              "bounded by a grace window and the immediate predecessor only (the notes accept any previous token of a valid session)"))
    add(Point("L6", sec, "Heartbeat suspension detection", *_browser("heartbeat.js", "test_resilience.py")))

    sec = "Root causes"
    add(Point("R5", sec, "Concurrent refresh race between tabs", _on(grace_ok), "cross-tab lock plus the server's grace window",
              {"REFRESH_GRACE": human(s.REFRESH_GRACE)}))
    add(Point("R6", sec, "Reuse detection invalidated ALL sessions", IMPLEMENTED,
              "reuse revokes that one session only, records its cause, and logs refresh.reuse", {}, "never revokes every session of the user"))

    sec = "Scenarios"
    add(Point("S1", sec, "Tab in background 2+ hours", IMPLEMENTED, "on return: visibility check, refresh-first; validate auto-refreshes"))
    # The notes keep a refresh token 30 days regardless of use; here the idle expiry may end it sooner.
    as_notes = s.SESSION_IDLE_TTL >= s.SESSION_ABSOLUTE_TTL
    add(Point("S2", sec, "Laptop sleep overnight", IMPLEMENTED if as_notes else DIFFERS,
              f"a session unused for less than {human(s.SESSION_IDLE_TTL)} refreshes on wake",
              {"SESSION_IDLE_TTL": human(s.SESSION_IDLE_TTL), "SESSION_ABSOLUTE_TTL": human(s.SESSION_ABSOLUTE_TTL)},
              "" if as_notes else f"the notes keep refresh tokens 30 days; here an idle gap over {human(s.SESSION_IDLE_TTL)} ends the session"))
    add(Point("S3", sec, "Multiple tabs open", _on(grace_ok), "cross-tab lock + idempotent backend"))
    add(Point("S4", sec, "Network interruption", IMPLEMENTED,
              "the server answers outages with 503 + Retry-After and never ends a session for them; the browser retries "
              "(retry.js; tests/browser/test_resilience.py)"))
    multi = probe.redis[0] and probe.channel_layer[0]
    add(Point("S5", sec, "Deploy/reload with tabs open", IMPLEMENTED if multi else UNAVAILABLE,
              "no state in process memory: sessions in Redis+SQL, keys in SQL, fan-out over the channel layer"))
    add(Point("S6", sec, "Switching browsers/tabs rapidly", _on(grace_ok), "the backend tolerates concurrent replay in the grace window"))

    sec = "Technical parameters"
    for ref, label, actual, target, name in (
        ("P1", "Access token TTL 60 minutes", s.ACCESS_TOKEN_TTL, timedelta(minutes=60), "ACCESS_TOKEN_TTL"),
        ("P2", "Refresh token TTL 30 days", s.SESSION_ABSOLUTE_TTL, timedelta(days=30), "SESSION_ABSOLUTE_TTL"),
        ("P8", "Max active sessions 5 per user", s.MAX_SESSIONS_PER_USER, 5, "MAX_SESSIONS_PER_USER"),
    ):
        st, now = _number(actual, target, name)
        add(Point(ref, sec, label, st, now, {name: human(actual) if actual is not None else "-"}))
    for ref, label, module in (
        ("P3", "Heartbeat interval 60 seconds", "constants.js HEARTBEAT_INTERVAL_MS"),
        ("P4", "Suspension threshold 2x interval", "constants.js SUSPENSION_MULTIPLIER"),
        ("P5", "Visibility debounce 1000 ms", "constants.js VISIBILITY_DEBOUNCE_MS"),
        ("P6", "Cross-tab lock TTL 10 seconds", "constants.js LOCK_TTL_MS"),
        ("P7", "Lock wait timeout 8 seconds", "constants.js LOCK_WAIT_MS"),
    ):
        add(Point(ref, sec, label, *_browser(module, "test_cross_tab_refresh.py, tests/js")))
    params = sorted((pt for pt in p if pt.section == sec), key=lambda pt: int(pt.ref[1:]))
    return [pt for pt in p if pt.section != sec] + params


def build_report(probe: Probe | None = None) -> list[Point]:
    """Every point of both source documents with this deployment's status."""
    probe = probe or Probe()
    return [
        *architecture_points(probe, auth_settings), *resilience_points(probe, auth_settings),
        *verification_points(probe, auth_settings),
    ]


def summary(points: list[Point]) -> dict[str, int]:
    """How many points have each status."""
    return {s: sum(1 for p in points if p.status == s) for s in STATUSES}
