"""The production guard for ``SECRET_KEY``.

``SECRET_KEY`` keys the refresh-chain derivation, the refresh-token HMACs and the
at-rest encryption of signing keys and PlayFab tickets. A server that runs on a
public key hands all of that to anyone who reads this repository, so with
``DEBUG`` off the settings refuse to load (``ImproperlyConfigured``) rather than
leave it to ``check --deploy``, which a container's start command never runs.
"""
from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

# The key `make run` uses with DEBUG on. Public (it is in this file), so never
# accepted with DEBUG off, neither as SECRET_KEY nor as a fallback.
DEV_SECRET_KEY = "dev-insecure-authsite-key-change-me-0123456789abcdef"
KNOWN_DEFAULT_PREFIXES = ("dev-insecure", "django-insecure")
# Django's own bar (django.core.checks.security.base, security.W009).
MIN_LENGTH = 50
MIN_UNIQUE_CHARACTERS = 5


def secret_key_problem(key: str) -> str | None:
    """Why ``key`` must not run a production server, or ``None`` if it may."""
    if not key:
        return "SECRET_KEY is not set"
    if key == DEV_SECRET_KEY or key.startswith(KNOWN_DEFAULT_PREFIXES):
        return "SECRET_KEY is a known development default"
    if len(key) < MIN_LENGTH:
        return f"SECRET_KEY is shorter than {MIN_LENGTH} characters"
    if len(set(key)) < MIN_UNIQUE_CHARACTERS:
        return f"SECRET_KEY has fewer than {MIN_UNIQUE_CHARACTERS} distinct characters"
    return None


def require_production_secret_keys(key: str, fallbacks: list[str]) -> None:
    """Raise ``ImproperlyConfigured`` unless ``key`` and every fallback are strong and private."""
    for name, value in [("SECRET_KEY", key), *(("SECRET_KEY_FALLBACKS", f) for f in fallbacks)]:
        problem = secret_key_problem(value)
        if problem:
            if name != "SECRET_KEY":
                problem = problem.replace("SECRET_KEY", "an entry of SECRET_KEY_FALLBACKS", 1)
            raise ImproperlyConfigured(
                f"Refusing to start with DEBUG off: {problem}. Set SECRET_KEY to 50+ random characters, "
                "e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(50))' "
                "(keep the previous key in SECRET_KEY_FALLBACKS while rotating), or set DEBUG=1 for development."
            )
