"""System checks (``manage.py check --deploy``): each names one problem and its fix.

All are deploy checks: they describe whether this configuration is fit to serve
real users, and some of them talk to Redis, the channel layer and the database.
Django's own deploy checks run alongside (``security.W018`` for ``DEBUG``,
``security.W012``/``W016`` for the admin and CSRF cookies, HSTS, SSL redirect).

IDs: ``authsite.E0xx`` errors, ``authsite.W0xx`` warnings (stable; silence one
with ``SILENCED_SYSTEM_CHECKS`` only with a reason).
"""
from __future__ import annotations

import asyncio
import ipaddress
from datetime import timedelta
from typing import Any

import redis
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError
from django.utils import timezone

from authsite.secret_key import secret_key_problem
from sessions_core.conf import auth_settings
from sessions_core.store.client import REDIS_ERRORS

LAYER_TIMEOUT = 3.0


def secret_and_cookie_problems() -> list[CheckMessage]:
    out: list[CheckMessage] = []
    key = str(settings.SECRET_KEY)
    if secret_key_problem(key):
        out.append(Error(
            "SECRET_KEY is the development key or too weak; it keys the refresh-token HMACs and at-rest encryption.",
            hint="Set SECRET_KEY to 50+ random characters (keep the old one in SECRET_KEY_FALLBACKS while rotating).",
            id="authsite.E001",
        ))
    if not auth_settings.COOKIE_SECURE:
        out.append(Error(
            "Auth cookies are not Secure: the session and refresh cookies would travel over plain HTTP.",
            hint="Leave AUTHSITE['COOKIE_SECURE'] on (env AUTH_COOKIE_SECURE unset or 1) and serve over HTTPS.",
            id="authsite.E002",
        ))
    if auth_settings.COOKIE_SAMESITE != "Strict":
        out.append(Warning(
            f"Auth cookies are SameSite={auth_settings.COOKIE_SAMESITE}, not Strict.",
            hint="Set AUTHSITE['COOKIE_SAMESITE'] = 'Strict' (the design's value).",
            id="authsite.W003",
        ))
    return out


def lifetime_problems() -> list[CheckMessage]:
    s = auth_settings
    out: list[CheckMessage] = []
    order = [
        ("ACCESS_TOKEN_TTL", s.ACCESS_TOKEN_TTL), ("SESSION_IDLE_TTL", s.SESSION_IDLE_TTL),
        ("SESSION_ABSOLUTE_TTL", s.SESSION_ABSOLUTE_TTL),
    ]
    for (a, av), (b, bv) in zip(order, order[1:]):
        if not av < bv:
            out.append(Error(
                f"Lifetimes are inconsistent: {a} ({av}) must be shorter than {b} ({bv}).",
                hint="Keep access token < session idle expiry < absolute lifetime (the refresh family's limit).",
                id="authsite.E004",
            ))
    if s.SESSION_TOKEN_TTL > s.SESSION_IDLE_TTL:
        out.append(Error(
            f"SESSION_TOKEN_TTL ({s.SESSION_TOKEN_TTL}) is longer than SESSION_IDLE_TTL ({s.SESSION_IDLE_TTL}).",
            hint="A session token must not outlive the session it names.",
            id="authsite.E004",
        ))
    if not timedelta(0) < s.REFRESH_GRACE <= timedelta(minutes=1):
        out.append(Warning(
            f"REFRESH_GRACE is {s.REFRESH_GRACE}: with 0 concurrent tabs trip reuse detection; "
            "over a minute lets a stolen predecessor token replay for long.",
            hint="Keep the grace window a few seconds (default 10 s).",
            id="authsite.W014",
        ))
    if s.ACTIVITY_FLUSH_INTERVAL >= s.SESSION_IDLE_TTL:
        out.append(Error(
            "ACTIVITY_FLUSH_INTERVAL is not shorter than SESSION_IDLE_TTL: the database would never see activity in time.",
            id="authsite.E004",
        ))
    return out


def provider_and_limit_problems() -> list[CheckMessage]:
    out: list[CheckMessage] = []
    if auth_settings.fake_providers:
        out.append(Error(
            "The built-in fake Discord and PlayFab are enabled (/_dev/): anyone can sign in as anyone.",
            hint="Turn DEBUG off and set DISCORD_CLIENT_ID/DISCORD_CLIENT_SECRET.",
            id="authsite.E005",
        ))
    elif not auth_settings.DISCORD_CLIENT_ID or not auth_settings.DISCORD_CLIENT_SECRET:
        out.append(Warning(
            "No Discord client credentials: nobody can sign in.",
            hint="Set DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET.",
            id="authsite.W015",
        ))
    if not auth_settings.fake_providers and not (auth_settings.PLAYFAB_TITLE_ID and auth_settings.PLAYFAB_SECRET_KEY):
        out.append(Error(
            "No PlayFab credentials: every sign-in logs the player into PlayFab, so every sign-in would fail.",
            hint="Set PLAYFAB_TITLE_ID and PLAYFAB_SECRET_KEY (Game Manager > Title settings > Secret Keys).",
            id="authsite.E016",
        ))
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        out.append(Error(
            "Rate limits are off (RATELIMIT_ENABLE): sign-in, refresh and token minting are unthrottled.",
            hint="Unset the RATELIMIT_ENABLE environment variable or set it to 1.",
            id="authsite.E006",
        ))
    cache = settings.CACHES.get(getattr(settings, "RATELIMIT_USE_CACHE", "default"), {})
    if cache.get("BACKEND", "").rsplit(".", 1)[-1] in {"LocMemCache", "DummyCache", "FileBasedCache", "DatabaseCache"}:
        out.append(Error(
            f"The rate-limit cache ({cache.get('BACKEND')}) is not a shared, atomic cache: limits would be per process or void.",
            hint="Use the django-redis cache built from REDIS_URL (the default).",
            id="authsite.E011",
        ))
    for net in auth_settings.METRICS_ALLOWED_NETS:
        try:
            if ipaddress.ip_network(net, strict=False).prefixlen == 0:
                out.append(Warning(
                    f"/metrics is open to every address ({net}).",
                    hint="Keep METRICS_ALLOWED_NETS to loopback and give the scraper METRICS_TOKEN.",
                    id="authsite.W012",
                ))
        except ValueError:
            out.append(Error(f"METRICS_ALLOWED_NETS has a bad network {net!r}.", id="authsite.E012"))
    return out


def signing_key_problems() -> list[CheckMessage]:
    from sessions_core.models import SigningKey

    try:
        newest = SigningKey.objects.filter(retired_at__isnull=True).order_by("-created_at").first()
    except DatabaseError as e:
        return [Warning(
            f"Could not read the signing keys ({type(e).__name__}); their age is unknown.",
            hint="Run `manage.py migrate` and check DATABASE_URL.",
            id="authsite.W013",
        )]
    if newest is None:
        return []  # The first key is made on first use.
    age = timezone.now() - newest.created_at
    limit = auth_settings.SIGNING_KEY_MAX_AGE
    if age > limit:
        return [Warning(
            f"The signing key {newest.kid} is {age.days} days old (limit {limit.days} days).",
            hint="Run `manage.py rotate_signing_key` (old tokens keep verifying until they expire).",
            id="authsite.W007",
        )]
    return []


def redis_problems() -> list[CheckMessage]:
    from sessions_core.store.client import get_redis

    try:
        get_redis().ping()
    except (*REDIS_ERRORS, redis.RedisError) as e:
        return [Error(
            f"The session store's Redis does not answer ({type(e).__name__}); the site would run "
            "degraded (sessions from SQL, no presence or hub fan-out).",
            hint="Check REDIS_URL and that Redis is running.",
            id="authsite.E008",
        )]
    return []


async def _layer_roundtrip(layer: Any) -> None:
    try:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "authsite.check"})
        await asyncio.wait_for(layer.receive(channel), LAYER_TIMEOUT)
    finally:
        close = getattr(layer, "close_pools", None)
        if close is not None:
            await close()


def channel_layer_problems() -> list[CheckMessage]:
    from channels.layers import channel_layers

    config = getattr(settings, "CHANNEL_LAYERS", {}).get("default")
    if not config:
        return [Error(
            "No channel layer: revocations cannot close WebSockets held by other worker processes.",
            hint="Configure CHANNEL_LAYERS['default'] with channels_redis (the default settings do).",
            id="authsite.E009",
        )]
    if config.get("BACKEND", "").endswith("InMemoryChannelLayer"):
        return [Error(
            "The channel layer is the in-memory layer: a revocation reaches only sockets of the same process.",
            hint="Use channels_redis.core.RedisChannelLayer (CHANNEL_REDIS_URL or REDIS_URL).",
            id="authsite.E009",
        )]
    try:
        # A fresh instance (not the cached one) so the check owns its connections.
        async_to_sync(_layer_roundtrip)(channel_layers.make_backend("default"))
    except (*REDIS_ERRORS, redis.RedisError, asyncio.TimeoutError) as e:
        return [Error(
            f"The channel layer does not deliver a message to itself ({type(e).__name__}).",
            hint="Check CHANNEL_REDIS_URL / REDIS_URL; channels-redis needs a plain or Sentinel Redis, not a Cluster.",
            id="authsite.E010",
        )]
    return []


def database_problems() -> list[CheckMessage]:
    engine = str(settings.DATABASES.get("default", {}).get("ENGINE", ""))
    if engine.endswith("sqlite3"):
        return [Warning(
            "The database is SQLite: a file on one host, so workers on other hosts cannot share it, "
            "writes queue behind one lock, and a lost container loses every session and user.",
            hint="Set DATABASE_URL to PostgreSQL (postgres://user:password@host:5432/name).",
            id="authsite.W017",
        )]
    return []


@register(Tags.security, deploy=True)
def check_auth_deploy(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Configuration checks that need no network."""
    return [*secret_and_cookie_problems(), *lifetime_problems(), *provider_and_limit_problems(), *database_problems()]


@register(Tags.security, deploy=True)
def check_auth_services(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Checks that talk to Redis, the channel layer and the database."""
    return [*redis_problems(), *channel_layer_problems(), *signing_key_problems()]
