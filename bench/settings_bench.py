"""Settings for the HTTP benchmark: the project's settings with one middleware stack per variant.

BENCH_VARIANT: ``bare`` (no middleware), ``authsite`` (the session-token middleware
only), ``django`` (Django's SessionMiddleware + AuthenticationMiddleware on the
cache session backend, over the same Redis).
"""
import os

from authsite.settings import *  # noqa: F401,F403
from authsite.settings import CACHES, LOGGING

VARIANT = os.environ.get("BENCH_VARIANT", "bare")
ROOT_URLCONF = "bench.urls_bench"
DEBUG = False
ALLOWED_HOSTS = ["*"]
MIDDLEWARE: list[str] = {
    "bare": [],
    "authsite": ["sessions_core.middleware.SessionTokenMiddleware"],
    "django": [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
}[VARIANT]
if VARIANT == "django":
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    SESSION_COOKIE_NAME = "sessionid"
    SESSION_COOKIE_PATH = "/"
CACHES = CACHES
LOGGING = {**LOGGING, "loggers": {**LOGGING["loggers"], "authsite.security": {"level": "WARNING"}}}
