"""Signing keys with ids, rotation and a JWKS.

Each :class:`~sessions_core.models.SigningKey` holds an Ed25519 key pair (for the
access-token JWT, published at ``/.well-known/jwks.json``) and an HMAC secret (for
the short session token). A key is published (key ring and JWKS) as soon as it
exists but signs only from its activation time, ``prepublication()`` later: by
then every JWKS copy a verifier may have cached lists it (pre-publication, as
identity providers do). New tokens are signed with the newest activated key; its
predecessor is retired at that moment and keeps verifying until every token it
can have signed has expired.

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


def prepublication() -> timedelta:
    """How long a new key is published before it signs.

    A verifier may hold a JWKS fetched just before the key appeared for the
    JWKS's max-age; the process that served it may have had a key ring up to
    ``KEY_CACHE_TTL`` old. After both, every copy in circulation lists the key.
    """
    return auth_settings.JWKS_CACHE_MAX_AGE + auth_settings.KEY_CACHE_TTL


def activates_at(row: SigningKey) -> datetime:
    """When ``row`` starts signing (if no newer key has activated by then)."""
    return row.created_at + prepublication()


@dataclass(frozen=True)
class KeyRing:
    """Every key that may verify; which one signs depends on the time (see :attr:`signing`)."""

    by_kid: dict[str, Key]
    # Keys that may sign, oldest first, each with its activation time.
    signers: tuple[tuple[datetime, Key], ...]
    loaded_at: float

    @property
    def signing(self) -> Key:
        """The newest key whose activation time has passed and that is not retired yet.

        Before any has activated (a fresh install, or a rotation made with
        ``immediately``), the oldest key that may sign: there is no earlier
        key a verifier could be using instead.
        """
        now = timezone.now()
        live = [(at, k) for at, k in self.signers if k.retired_at is None or k.retired_at > now]
        if not live:
            return self.signers[-1][1]
        ready = [k for at, k in live if at <= now]
        return ready[-1] if ready else live[0][1]

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


def rotate_signing_key(*, immediately: bool = False) -> SigningKey:
    """Publish a new key that signs from ``activates_at(row)``; the current keys retire then.

    Until then the current key keeps signing, so no token names a key a verifier's
    cached JWKS lacks. ``immediately`` (a leaked key) switches at once: tokens
    signed now are rejected by verifiers until their JWKS cache refreshes.
    Retired keys verify for ``retired_key_window()`` after retiring.
    """
    with transaction.atomic():
        row = _new_key_row()
        row.created_at = timezone.now()
        row.save()
        switch = row.created_at if immediately else activates_at(row)
        SigningKey.objects.filter(retired_at__isnull=True).exclude(kid=row.kid).update(retired_at=switch)
        if immediately:
            SigningKey.objects.filter(retired_at__gt=switch).update(retired_at=switch)
    invalidate_cache()
    return row


def _load() -> KeyRing:
    cutoff = timezone.now() - retired_key_window()
    rows = list(SigningKey.objects.filter(retired_at__isnull=True) | SigningKey.objects.filter(retired_at__gt=cutoff))
    now = timezone.now()
    if not any(r.retired_at is None or r.retired_at > now for r in rows):
        with transaction.atomic():
            row = _new_key_row()
            row.created_at = now
            row.save()
        rows.append(row)
    keys = {r.kid: _to_key(r) for r in rows}
    signers = sorted(
        ((activates_at(r), keys[r.kid]) for r in rows if r.retired_at is None or r.retired_at > now),
        key=lambda pair: pair[1].created_at,
    )
    return KeyRing(by_kid=keys, signers=tuple(signers), loaded_at=time.monotonic())


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
