"""Pending sign-ins: the OAuth ``state``, its PKCE verifier and where to land, used once.

``state`` defends the redirect URI against cross-site request forgery (RFC 6749
section 10.12; RFC 9700 section 4.7): it is random, single use (taken with
GETDEL, so two callbacks racing with one state cannot both win), short-lived
(``OAUTH_STATE_TTL``) and bound to the browser that started the flow (checked
before the take, so a foreign browser cannot burn someone's state). The
binding is a random value in an HttpOnly cookie; Redis keeps only its SHA-256.
That cookie is SameSite=Lax, not Strict: the callback is a cross-site top-level
navigation from Discord, on which a Strict cookie would not be sent.

PKCE (RFC 7636): a fresh ``code_verifier`` per attempt, sent to Discord only as
its S256 challenge (section 4.2) and presented at the token exchange.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import asdict, dataclass

from sessions_core.store import keys as redis_keys
from sessions_core.conf import auth_settings
from sessions_core.errors import OAuthStateInvalid, StoreUnavailable
from sessions_core.store.client import REDIS_ERRORS, get_async_redis

BINDING_COOKIE = "as_oauth"
BINDING_COOKIE_PATH = "/auth/discord/"
# state, binding and verifier are all token_urlsafe output: refuse anything else
# before touching Redis.
_TOKEN_RE = re.compile(r"\A[A-Za-z0-9_-]{32,128}\Z")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def digest(value: str) -> str:
    """SHA-256 (hex) of a random value: what Redis keeps instead of the value."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_verifier() -> str:
    """A PKCE ``code_verifier``: 64 characters from the unreserved set (RFC 7636 section 4.1)."""
    return secrets.token_urlsafe(48)


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(code_verifier)))`` (RFC 7636 section 4.2)."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def well_formed(value: str | None) -> bool:
    return bool(value) and bool(_TOKEN_RE.match(value or ""))


def browser_binding(existing: str | None) -> str:
    """The browser's binding value: the one its cookie already holds, or a new one.

    Reusing a live value lets sign-ins started in two tabs both complete.
    """
    return existing if existing and well_formed(existing) else secrets.token_urlsafe(32)


@dataclass(frozen=True)
class PendingSignin:
    """What the callback needs from the login step."""

    verifier: str
    next: str
    redirect_uri: str
    # Where the request came in: locates the built-in fakes for the callback.
    origin: str
    binding_digest: str


async def pending_save(*, pending: PendingSignin) -> str:
    """Store ``pending`` under a new ``state`` for ``OAUTH_STATE_TTL``; returns the state.

    Raises ``StoreUnavailable`` when Redis cannot be written.
    """
    state = secrets.token_urlsafe(32)
    ttl = max(1, int(auth_settings.OAUTH_STATE_TTL.total_seconds()))
    try:
        await get_async_redis().set(
            redis_keys.oauth_state(digest(state)), json.dumps(asdict(pending)), ex=ttl, nx=True
        )
    except REDIS_ERRORS as e:
        raise StoreUnavailable() from e
    return state


async def pending_take(*, state: str | None, binding: str | None) -> PendingSignin:
    """Consume ``state`` and return its pending sign-in.

    The browser binding is checked before the state is consumed: a callback from
    another browser (a leaked or phished callback URL) is refused and leaves the
    state for the browser that started the flow. The take itself is a GETDEL, so
    of two callbacks racing with one state only one wins.

    Raises ``OAuthStateInvalid`` when the state is missing, malformed, unknown,
    already used or expired, or was issued to another browser (``binding`` does
    not match); ``StoreUnavailable`` when Redis cannot be read.
    """
    if not state or not well_formed(state):
        raise OAuthStateInvalid()
    key = redis_keys.oauth_state(digest(state))
    try:
        raw = await get_async_redis().get(key)
    except REDIS_ERRORS as e:
        raise StoreUnavailable() from e
    if raw is None:
        raise OAuthStateInvalid()
    try:
        pending = PendingSignin(**json.loads(raw))
    except (ValueError, TypeError) as e:
        raise OAuthStateInvalid() from e
    presented = digest(binding) if binding and well_formed(binding) else ""
    if not hmac.compare_digest(presented, pending.binding_digest):
        raise OAuthStateInvalid()
    try:
        taken = await get_async_redis().getdel(key)
    except REDIS_ERRORS as e:
        raise StoreUnavailable() from e
    if taken is None or taken != raw:
        raise OAuthStateInvalid()
    return pending
