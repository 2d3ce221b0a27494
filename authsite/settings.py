"""Django settings for authsite.

Everything deployment-specific comes from the environment with a safe default:
``DATABASE_URL`` (SQLite by default), ``REDIS_URL``, ``SECRET_KEY``, ``DEBUG``,
``ALLOWED_HOSTS``. Every number of the auth design lives in ``AUTHSITE`` and is
read through :mod:`sessions_core.conf`.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from authsite.secret_key import DEV_SECRET_KEY, require_production_secret_keys
from sessions_core.store.urls import cache_config, channel_layer_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
# The development key is only ever used with DEBUG on: with DEBUG off a missing,
# short or known key stops the server here, before it serves a request.
SECRET_KEY = os.environ.get("SECRET_KEY") or (DEV_SECRET_KEY if DEBUG else "")
SECRET_KEY_FALLBACKS = [k for k in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",") if k]
if not DEBUG:
    require_production_secret_keys(SECRET_KEY, SECRET_KEY_FALLBACKS)
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

# `make run` starts a private Redis when REDIS_URL is unset and records its URL in
# .run/redis.url; every other process of this checkout (manage.py in a second
# terminal) reads it, so commands act on the Redis the running site uses.
RUN_DIR = Path(os.environ.get("AUTHSITE_RUN_DIR") or BASE_DIR / ".run")
_RUN_REDIS = RUN_DIR / "redis.url"
_RUN_REDIS_URL = _RUN_REDIS.read_text().strip() if _RUN_REDIS.is_file() else ""
REDIS_URL = os.environ.get("REDIS_URL") or _RUN_REDIS_URL or "redis://127.0.0.1:6379/0"
if _RUN_REDIS_URL and REDIS_URL == _RUN_REDIS_URL and (RUN_DIR / "prometheus").is_dir():
    # Acting on the site `make run` serves: count into its multiprocess metrics
    # directory, so its /metrics shows what this process did (ops/metrics.py).
    # Set before anything imports prometheus_client, which reads it then.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(RUN_DIR / "prometheus"))
# channels-redis cannot use Redis Cluster: with a redis+cluster:// REDIS_URL the channel
# layer needs its own plain or Sentinel Redis here (see sessions_core/redis_urls.py).
CHANNEL_REDIS_URL = os.environ.get("CHANNEL_REDIS_URL") or REDIS_URL

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "sessions_core",
    "signin",
    "realtime",
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "sessions_core.middleware.SessionTokenMiddleware",
]

ROOT_URLCONF = "authsite.urls"
ASGI_APPLICATION = "authsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the request path read while a refresh writes; the busy timeout
    # turns brief write contention into a short wait instead of an error.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"})

if os.environ.get("TEST_DATABASE_NAME"):
    # Tests that serve the site from a separate daphne process need a test
    # database that process can open (a file for SQLite), and concurrent suite
    # runs on one PostgreSQL need distinct names.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not Django's shared-cache in-memory default: that one answers
    # "table is locked" to concurrent writers instead of waiting.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".run" / f"test-{os.getpid()}.sqlite3")}

AUTH_USER_MODEL = "sessions_core.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": cache_config(REDIS_URL, key_prefix="authsite", timeout=2)}

CHANNEL_LAYERS = {"default": channel_layer_config(CHANNEL_REDIS_URL, prefix="authsite:chan")}

# Django's own session framework serves the admin only: its cookie is scoped to
# /admin/ and never meets the site's session token.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_NAME = "admin_sessionid"
SESSION_COOKIE_PATH = "/admin/"
SESSION_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"

# CSRF: pages set `csrftoken`; browser code sends it back as X-CSRFToken. The
# cookie is readable by JS on purpose (that is how the double submit works).
CSRF_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_FAILURE_VIEW = "sessions_core.views.errors.csrf_failure"

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# HTTPS enforcement for deployments (all off by default for `make run` on plain HTTP);
# health probes and the metrics scrape come over the internal network, unredirected.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("SECURE_PROXY_SSL", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

# Content-Security-Policy (django-csp): the access token sits in localStorage, so
# no script runs unless it is a file this site serves: no inline script, no
# eval, no foreign origin. Avatars come from Discord's CDN; the hub's WebSocket,
# SSE and long polling are same-origin ('self' covers ws:/wss: in CSP Level 3).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https://cdn.discordapp.com"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# A cookie or header past this size is refused before any signature work.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

RATELIMIT_USE_CACHE = "default"
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
RATELIMIT_FAIL_OPEN = False

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / ".run" / "staticfiles"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

LOGIN_URL = "/"

# Every number of the auth design; see sessions_core/conf.py for each one's meaning.
AUTHSITE: dict[str, object] = {
    "COOKIE_SECURE": env_bool("AUTH_COOKIE_SECURE", True),
    "DISCORD_CLIENT_ID": os.environ.get("DISCORD_CLIENT_ID", ""),
    "DISCORD_CLIENT_SECRET": os.environ.get("DISCORD_CLIENT_SECRET", ""),
    "PLAYFAB_TITLE_ID": os.environ.get("PLAYFAB_TITLE_ID", ""),
    "PLAYFAB_SECRET_KEY": os.environ.get("PLAYFAB_SECRET_KEY", ""),
    "DISCORD_REDIRECT_URI": os.environ.get("DISCORD_REDIRECT_URI", ""),
    "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
    "TRUSTED_PROXY_HOPS": int(os.environ.get("TRUSTED_PROXY_HOPS", "0")),
}

# Operations and test hooks: lifetimes a subprocess server can be started with
# (e.g. short access tokens to watch a hub connection expire).
for _env, _name in (
    ("AUTHSITE_ACCESS_TOKEN_TTL_SECONDS", "ACCESS_TOKEN_TTL"),
    ("AUTHSITE_SESSION_TOKEN_TTL_SECONDS", "SESSION_TOKEN_TTL"),
    ("AUTHSITE_REFRESH_GRACE_SECONDS", "REFRESH_GRACE"),
    ("AUTHSITE_ACTIVITY_FLUSH_INTERVAL_SECONDS", "ACTIVITY_FLUSH_INTERVAL"),
    ("AUTHSITE_HUB_TOKEN_EXPIRING_SECONDS", "HUB_TOKEN_EXPIRING_BEFORE"),
    ("AUTHSITE_HUB_PING_INTERVAL_SECONDS", "HUB_PING_INTERVAL"),
):
    if os.environ.get(_env):
        AUTHSITE[_name] = timedelta(seconds=float(os.environ[_env]))
# Rate limits (django-ratelimit syntax, e.g. "600/m"), for load and soak runs.
for _env, _name in (("AUTHSITE_RATE_REFRESH", "RATE_REFRESH"), ("AUTHSITE_RATE_TOKEN", "RATE_TOKEN")):
    if os.environ.get(_env):
        AUTHSITE[_name] = os.environ[_env]
if os.environ.get("AUTHSITE_REDIS_KEY_PREFIX"):
    AUTHSITE["REDIS_KEY_PREFIX"] = os.environ["AUTHSITE_REDIS_KEY_PREFIX"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "sessions_core.security_log.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "security": {"class": "logging.StreamHandler", "formatter": "json"},
    },
    "loggers": {
        "authsite.security": {"handlers": ["security"], "level": "INFO", "propagate": False},
        # Not propagated: the root logger's console would print every Django line a second time.
        "django": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING"), "propagate": False},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
}
