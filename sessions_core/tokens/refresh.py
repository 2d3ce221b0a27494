"""The refresh token ``r1.<uid>.<sid>.<gen>.<secret>``.

Opaque to the client; the server stores only an HMAC of the secret. Rotation
derives the next secret as a keyed hash of the presented one, so every
concurrent caller holding the immediate predecessor receives the identical
successor without the server ever storing a token in plain text.

The chain's key is a per-session random seed (32 bytes, kept encrypted in the
session row), not ``SECRET_KEY``: whoever learns the server key (a leaked or
default key) still cannot compute a stolen token's successors offline, and a
``SECRET_KEY`` rotation does not change the chain (grace replays and ancestor
detection keep working). Sessions made before the seed existed (empty
``refresh_seed_enc``) keep the old derivation, keyed by ``SECRET_KEY``, until
they end.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sessions_core.conf import auth_settings
from sessions_core.errors import RefreshInvalid
from sessions_core.tokens import crypto

REFRESH_PREFIX = "r1"


@dataclass(frozen=True)
class RefreshParts:
    uid: int
    sid: str
    generation: int
    secret: str

    def encode(self) -> str:
        return f"{REFRESH_PREFIX}.{self.uid}.{self.sid}.{self.generation}.{self.secret}"


def parse_refresh_token(token: str) -> RefreshParts:
    if not token or len(token) > auth_settings.MAX_TOKEN_LENGTH:
        raise RefreshInvalid("The refresh token is empty or too long.")
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != REFRESH_PREFIX:
        raise RefreshInvalid("The refresh token is malformed.")
    try:
        uid, sid, gen = int(parts[1]), uuid.UUID(hex=parts[2]).hex, int(parts[3])
    except ValueError as e:
        raise RefreshInvalid("The refresh token is malformed.") from e
    if uid <= 0 or gen < 0 or not 20 <= len(parts[4]) <= 128:
        raise RefreshInvalid("The refresh token is malformed.")
    return RefreshParts(uid=uid, sid=sid, generation=gen, secret=parts[4])


def refresh_hash(secret: str) -> str:
    return crypto.secret_hmac("refresh-hash", secret)


def refresh_matches(secret: str, stored: str) -> bool:
    return crypto.secret_hmac_matches("refresh-hash", secret, stored)


SEED_BYTES = 32


def new_refresh_seed() -> bytes:
    """A fresh chain seed for a new session."""
    return secrets.token_bytes(SEED_BYTES)


def seal_refresh_seed(seed: bytes) -> str:
    """The seed as stored in the session row (encrypted at rest)."""
    return crypto.encrypt(seed)


def open_refresh_seed(sealed: str) -> bytes | None:
    """The seed of a session row; ``None`` for a session made before seeds existed.

    Raises ``ValueError`` when the value cannot be decrypted with ``SECRET_KEY``
    or its fallbacks.
    """
    if not sealed:
        return None
    return crypto.decrypt(sealed)


def next_refresh(parts: RefreshParts, seed: bytes | None) -> RefreshParts:
    """The successor of a refresh token: a keyed hash of it (deterministic, one-way).

    Keyed by the session's ``seed``; ``None`` (a session older than seeds) uses
    the legacy derivation under ``SECRET_KEY``.
    """
    message = f"{parts.sid}:{parts.generation}:{parts.secret}"
    if seed is None:
        digest = crypto.keyed_digest("refresh-chain", message)
    else:
        digest = hmac.new(seed, f"authsite.refresh-chain.v2:{message}".encode(), hashlib.sha256).digest()
    return RefreshParts(uid=parts.uid, sid=parts.sid, generation=parts.generation + 1, secret=crypto.b64url(digest))


def new_refresh(*, uid: int, sid: str) -> RefreshParts:
    return RefreshParts(uid=uid, sid=sid, generation=0, secret=crypto.random_secret(32))


def epoch(dt: datetime) -> int:
    return int(dt.timestamp())
