"""Small cryptographic helpers on top of Django's own primitives.

- ``secret_hmac``: keyed hash of a secret for storage (refresh tokens); verified
  against ``SECRET_KEY`` and its fallbacks so a key rotation does not log anyone out.
- ``encrypt``/``decrypt``: at-rest encryption (Fernet) for what cannot be hashed
  (signing keys, PlayFab tickets), keyed from ``SECRET_KEY`` via HKDF.
"""
from __future__ import annotations

import base64
import hmac
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils.crypto import salted_hmac


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def random_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def _secret_keys() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def secret_hmac(purpose: str, value: str, *, secret: str | None = None) -> str:
    """HMAC-SHA256 of ``value`` for ``purpose`` under ``SECRET_KEY`` (hex)."""
    return salted_hmac(f"authsite.{purpose}", value, secret=secret, algorithm="sha256").hexdigest()


def secret_hmac_matches(purpose: str, value: str, stored: str) -> bool:
    """Constant-time check of ``value`` against a stored HMAC, across key fallbacks."""
    if not stored:
        return False
    ok = False
    for key in _secret_keys():
        ok |= hmac.compare_digest(secret_hmac(purpose, value, secret=key), stored)
    return ok


def keyed_digest(purpose: str, value: str) -> bytes:
    """Raw HMAC bytes under the current ``SECRET_KEY`` (for deterministic derivations)."""
    return salted_hmac(f"authsite.{purpose}", value, algorithm="sha256").digest()


@lru_cache(maxsize=8)
def _fernet_for(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"authsite.at-rest", info=b"fernet").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _multi() -> MultiFernet:
    return MultiFernet([_fernet_for(k) for k in _secret_keys()])


def encrypt(plaintext: bytes) -> str:
    return _multi().encrypt(plaintext).decode("ascii")


def decrypt(token: str) -> bytes:
    """Decrypt a value made by :func:`encrypt`; raises ``ValueError`` if it cannot be."""
    try:
        return _multi().decrypt(token.encode("ascii"))
    except InvalidToken as e:
        raise ValueError("at-rest value cannot be decrypted with SECRET_KEY or its fallbacks") from e
