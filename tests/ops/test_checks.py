"""`manage.py check --deploy`: clean on a production-like configuration, names each problem otherwise."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import timedelta
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.utils import timezone

from sessions_core.tokens import signing_keys
from sessions_core.models import SigningKey
from sessions_core.store.client import reset_clients
from tests.support.redis_server import free_port

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "auth.example.com",
    "DISCORD_CLIENT_ID": "123456789012345678",
    "DISCORD_CLIENT_SECRET": "discord-secret",
    "PLAYFAB_TITLE_ID": "ABCD1",
    "PLAYFAB_SECRET_KEY": "playfab-secret",
    "SECURE_PROXY_SSL": "1",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DEBUG", "SECRET_KEY", "DATABASE_URL", "TEST_DATABASE"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def ids() -> set[str]:
    return {m.id for m in run_checks(include_deployment_checks=True) if m.id and m.id.startswith("authsite.")}


PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")


@pytest.fixture
def scratch_postgres() -> Iterator[str | None]:
    """A fresh PostgreSQL database for a subprocess (None where no PostgreSQL answers)."""
    import psycopg

    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        yield None
        return
    name = f"authsite_check_{os.getpid()}_{secrets.token_hex(3)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_production_like_configuration_is_clean(tmp_path, settings, scratch_postgres):
    env = {**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(50), "REDIS_URL": settings.REDIS_URL}
    # SQLite is itself a finding (authsite.W017) and nothing else is.
    sqlite_env = {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}"}
    assert manage("migrate", "--noinput", "-v", "0", env=sqlite_env).returncode == 0
    proc = manage("check", "--deploy", env=sqlite_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(authsite.W017) The database is SQLite" in proc.stderr and "identified 1 issue" in proc.stderr
    if scratch_postgres is None:
        assert os.environ.get("CI") != "true", "CI needs PostgreSQL for the clean deploy check"
        return
    pg_env = {**env, "DATABASE_URL": scratch_postgres}
    assert manage("migrate", "--noinput", "-v", "0", env=pg_env).returncode == 0
    proc = manage("check", "--deploy", env=pg_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "System check identified no issues (0 silenced)." in proc.stdout


def test_missing_playfab_credentials_are_an_error_in_production(tmp_path, settings):
    env = {**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(50), "REDIS_URL": settings.REDIS_URL,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}", "PLAYFAB_SECRET_KEY": ""}
    proc = manage("check", "--deploy", env=env)
    assert proc.returncode != 0
    line = next((ln for ln in proc.stderr.splitlines() if "(authsite.E016)" in ln), "")
    assert "No PlayFab credentials: every sign-in logs the player into PlayFab" in line, proc.stderr


def test_default_development_configuration_names_each_problem(tmp_path, settings):
    env = {"DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}", "REDIS_URL": settings.REDIS_URL,
           "AUTH_COOKIE_SECURE": "0", "RATELIMIT_ENABLE": "0"}
    proc = manage("check", "--deploy", env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for check_id, words in {
        "authsite.E001": "SECRET_KEY is the development key",
        "authsite.E002": "not Secure",
        "authsite.E005": "fake Discord and PlayFab are enabled",
        "authsite.E006": "Rate limits are off",
        "authsite.W013": "Could not read the signing keys",  # no migrations in this fresh database
        "security.W018": "DEBUG set to True",
        "security.W004": "SECURE_HSTS_SECONDS",
        "security.W008": "SECURE_SSL_REDIRECT",
        "security.W012": "SESSION_COOKIE_SECURE",
        "security.W016": "CSRF_COOKIE_SECURE",
    }.items():
        line = next((ln for ln in out.splitlines() if f"({check_id})" in ln), "")
        assert words in line, f"{check_id} missing or unclear in:\n{out}"


def test_a_fully_configured_deployment_has_no_authsite_findings(settings):
    settings.AUTHSITE = {**settings.AUTHSITE, "DISCORD_CLIENT_ID": "1", "DISCORD_CLIENT_SECRET": "s",
                         "PLAYFAB_TITLE_ID": "ABCD1", "PLAYFAB_SECRET_KEY": "k"}
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    on_sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
    assert ids() == ({"authsite.W017"} if on_sqlite else set())


def test_redis_and_channel_layer_that_do_not_answer_are_errors(settings):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.REDIS_URL = dead
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [dead]}}}
    reset_clients()
    try:
        found = ids()
    finally:
        reset_clients()
    assert {"authsite.E008", "authsite.E010"} <= found


def test_in_memory_channel_layer_is_an_error(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert "authsite.E009" in ids()
    settings.CHANNEL_LAYERS = {}
    assert "authsite.E009" in ids()


def test_inconsistent_lifetimes_and_grace_window(settings):
    settings.AUTHSITE = {**settings.AUTHSITE, "ACCESS_TOKEN_TTL": timedelta(days=5)}
    assert "authsite.E004" in ids()
    settings.AUTHSITE = {**settings.AUTHSITE, "ACCESS_TOKEN_TTL": timedelta(minutes=60),
                         "SESSION_ABSOLUTE_TTL": timedelta(days=1)}
    assert "authsite.E004" in ids()
    settings.AUTHSITE = {**settings.AUTHSITE, "SESSION_ABSOLUTE_TTL": timedelta(days=30), "REFRESH_GRACE": timedelta(0)}
    found = ids()
    assert "authsite.W014" in found and "authsite.E004" not in found


def test_old_signing_key_warns(settings):
    signing_keys.get_keyring()
    assert "authsite.W007" not in ids()
    SigningKey.objects.update(created_at=timezone.now() - timedelta(days=91))
    assert "authsite.W007" in ids()
    signing_keys.rotate_signing_key()
    assert "authsite.W007" not in ids()


def test_shared_cache_open_metrics_and_missing_discord(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.AUTHSITE = {**settings.AUTHSITE, "METRICS_ALLOWED_NETS": ["0.0.0.0/0"]}
    found = ids()
    assert {"authsite.E011", "authsite.W012", "authsite.W015"} <= found
