"""Signing keys with ids, rotation and a JWKS.

Each :class:`~sessions_core.models.SigningKey` holds an Ed25519 key pair (for the
access-token JWT, published at ``/.well-known/jwks.json``) and an HMAC secret (for
the short session token). New tokens are signed with the newest active key;
a retired key keeps verifying until every token it can have signed has expired.

The key ring is cached per process and reloaded every ``KEY_CACHE_TTL`` and, at
most once a second, when a token names a ``kid`` the cache does not know. A
``kid`` is attacker input: it is only ever used as a dictionary key.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.db import transaction
from django.utils import timezone
from jwt.algorithms import OKPAlgorithm

from sessions_core.tokens import crypto
from sessions_core.conf import auth_settings
from sessions_core.errors import TokenInvalid
from sessions_core.models import SigningKey


@dataclass(frozen=True)
class Key:
    kid: str
    private: Ed25519PrivateKey
    public: Ed25519PublicKey
    hmac_secret: str
    created_at: datetime
    retired_at: datetime | None
    public_jwk: dict[str, str]


def longest_token_lifetime() -> timedelta:
    """The longest lifetime a token signed by a key can have."""
    return max(auth_settings.SESSION_TOKEN_TTL, auth_settings.ACCESS_TOKEN_TTL)


def retired_key_window() -> timedelta:
    """How long after retirement a key keeps verifying: the longest token lifetime,
    plus the key cache's lifetime (a worker that has not reloaded its ring yet may
    still sign with a key another process just retired)."""
    return longest_token_lifetime() + auth_settings.KEY_CACHE_TTL


@dataclass(frozen=True)
class KeyRing:
    signing: Key
    by_kid: dict[str, Key]
    loaded_at: float

    def verifying(self, kid: object) -> Key:
        """The key for ``kid`` if it may still verify; raises ``TokenInvalid`` otherwise."""
        if not isinstance(kid, str):
            raise TokenInvalid("The token names no key.")
        key = self.by_kid.get(kid)
        if key is None:
            raise TokenInvalid("The token was signed by an unknown key.")
        if key.retired_at is not None and key.retired_at + retired_key_window() <= timezone.now():
            raise TokenInvalid("The token was signed by a retired key.")
        return key


def _new_key_row() -> SigningKey:
    private = Ed25519PrivateKey.generate()
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    kid = secrets.token_hex(6)
    jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": "EdDSA", "use": "sig"})
    return SigningKey(
        kid=kid,
        algorithm="EdDSA",
        private_key_enc=crypto.encrypt(der),
        hmac_secret_enc=crypto.encrypt(secrets.token_bytes(32)),
        public_jwk=jwk,
    )


def _to_key(row: SigningKey) -> Key:
    private = serialization.load_der_private_key(crypto.decrypt(row.private_key_enc), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise TokenInvalid("Signing key has an unexpected type.")
    return Key(
        kid=row.kid,
        private=private,
        public=private.public_key(),
        hmac_secret=crypto.decrypt(row.hmac_secret_enc).hex(),
        created_at=row.created_at,
        retired_at=row.retired_at,
        public_jwk=dict(row.public_jwk),
    )


def rotate_signing_key() -> SigningKey:
    """Add a new signing key and retire the active ones (they still verify for a token lifetime)."""
    with transaction.atomic():
        row = _new_key_row()
        row.save()
        SigningKey.objects.filter(retired_at__isnull=True).exclude(kid=row.kid).update(retired_at=timezone.now())
    invalidate_cache()
    return row


def _load() -> KeyRing:
    cutoff = timezone.now() - retired_key_window()
    rows = list(SigningKey.objects.filter(retired_at__isnull=True) | SigningKey.objects.filter(retired_at__gt=cutoff))
    active = [r for r in rows if r.retired_at is None]
    if not active:
        with transaction.atomic():
            row = _new_key_row()
            row.save()
        rows.append(row)
        active = [row]
    keys = {r.kid: _to_key(r) for r in rows}
    newest = max(active, key=lambda r: r.created_at)
    return KeyRing(signing=keys[newest.kid], by_kid=keys, loaded_at=time.monotonic())


_lock = threading.Lock()
_ring: KeyRing | None = None
_last_miss_reload = 0.0


def invalidate_cache() -> None:
    global _ring
    with _lock:
        _ring = None


def reset_for_tests() -> None:
    """Forget the cached ring and the unknown-kid reload throttle."""
    global _last_miss_reload
    invalidate_cache()
    _last_miss_reload = 0.0


def _fresh(ring: KeyRing) -> bool:
    return time.monotonic() - ring.loaded_at < auth_settings.KEY_CACHE_TTL.total_seconds()


def get_keyring() -> KeyRing:
    """The current key ring (sync; may query the database when the cache is stale)."""
    global _ring
    ring = _ring
    if ring is not None and _fresh(ring):
        return ring
    with _lock:
        ring = _ring
        if ring is None or not _fresh(ring):
            ring = _ring = _load()
        return ring


async def aget_keyring() -> KeyRing:
    """Async twin of :func:`get_keyring`: no thread hop while the cache is fresh."""
    ring = _ring
    if ring is not None and _fresh(ring):
        return ring
    return await sync_to_async(get_keyring)()


def reload_for_unknown_kid(kid: object) -> bool:
    """Reload once a second at most when a token names a kid we do not know; True if reloaded."""
    global _last_miss_reload
    ring = _ring
    if ring is None or not isinstance(kid, str) or kid in ring.by_kid:
        return False
    now = time.monotonic()
    if now - _last_miss_reload < 1.0:
        return False
    _last_miss_reload = now
    invalidate_cache()
    get_keyring()
    return True


def jwks() -> dict[str, list[dict[str, str]]]:
    ring = get_keyring()
    return {"keys": [k.public_jwk for k in sorted(ring.by_kid.values(), key=lambda k: k.created_at, reverse=True)]}
