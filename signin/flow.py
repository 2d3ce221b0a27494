"""The sign-in flow: start (state + PKCE), then finish (code, Discord user, PlayFab, session).

Order on the way back, so that a failure anywhere creates nothing: take the
state (single use), exchange the code, fetch the Discord user, log into PlayFab,
and only then link the user and create the session in one transaction. The
provider calls run in a worker thread outside the event loop (they block, and
with the built-in fakes the server is calling itself: the loop must stay free
to answer), the database work in Django's thread-sensitive executor.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils.http import url_has_allowed_host_and_scheme

from sessions_core import security_log
from sessions_core.conf import auth_settings
from sessions_core.errors import NextInvalid, ProviderDenied
from signin.errors import DiscordFailed
from sessions_core.models import User
from signin.providers import discord, http, playfab
from signin.providers.config import discord_config, playfab_config
from signin.oauth_state import PendingSignin, browser_binding, digest, new_verifier, pending_save, pending_take, s256_challenge
from sessions_core.services.issue import IssuedTokens
from sessions_core.services.sessions import session_create

DEFAULT_NEXT = "/app"
MAX_NEXT_LENGTH = 1024


def safe_next(raw: str | None) -> str:
    """``raw`` if it is a path on this site, ``DEFAULT_NEXT`` if absent; raises ``NextInvalid``.

    Refuses anything a browser could resolve to another origin: scheme-relative
    ``//host``, absolute URLs, backslashes (``/\\host`` is ``//host`` to browsers,
    WHATWG URL "special" schemes), and control characters (stripped by browsers,
    so ``/\\t/host`` would become ``//host``).
    """
    if raw is None or raw == "":
        return DEFAULT_NEXT
    if len(raw) > MAX_NEXT_LENGTH or "\\" in raw or any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise NextInvalid()
    if not raw.startswith("/") or raw.startswith("//"):
        raise NextInvalid()
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not url_has_allowed_host_and_scheme(raw, allowed_hosts=None):
        raise NextInvalid()
    return raw


@dataclass(frozen=True)
class SigninStart:
    """Where to send the browser, and the binding value for its cookie."""

    redirect_url: str
    binding: str
    next: str


async def signin_begin(*, origin: str, next_path: str | None, binding: str | None) -> SigninStart:
    """Start a Discord sign-in for the browser holding ``binding`` (or a new one).

    Raises ``NextInvalid``, ``ProviderUnavailable`` (``discord_not_configured``) or
    ``StoreUnavailable``; stores nothing when it raises.
    """
    target = safe_next(next_path)
    cfg = discord_config(origin=origin)
    verifier = new_verifier()
    bound = browser_binding(binding)
    state = await pending_save(
        pending=PendingSignin(
            verifier=verifier, next=target, redirect_uri=cfg.redirect_uri, origin=origin, binding_digest=digest(bound)
        )
    )
    return SigninStart(
        redirect_url=discord.authorize_url(cfg, state=state, code_challenge=s256_challenge(verifier)),
        binding=bound,
        next=target,
    )


async def signin_take_state(*, state: str | None, binding: str | None) -> PendingSignin:
    """Consume the callback's ``state``; raises ``OAuthStateInvalid`` or ``StoreUnavailable``."""
    pending = await pending_take(state=state, binding=binding)
    # Re-checked: the stored value came from our own login step, but a bad one must never redirect.
    safe_next(pending.next)
    return pending


@dataclass(frozen=True)
class Identity:
    discord: discord.DiscordUser
    playfab: playfab.PlayFabLogin


def _identify(pending: PendingSignin, code: str) -> Identity:
    """Code -> Discord token -> Discord user -> PlayFab login, within one budget (blocking)."""
    budget = http.Budget.of(float(auth_settings.PROVIDER_BUDGET))
    # The token exchange must present the redirect URI the code was issued for.
    dcfg = dataclasses.replace(discord_config(origin=pending.origin), redirect_uri=pending.redirect_uri)
    pcfg = playfab_config(origin=pending.origin)
    access = discord.exchange_code(dcfg, code=code, code_verifier=pending.verifier, budget=budget)
    duser = discord.fetch_user(dcfg, access_token=access, budget=budget)
    login = playfab.login_with_server_custom_id(pcfg, custom_id=duser.id, budget=budget)
    return Identity(discord=duser, playfab=login)


def user_link_discord(*, discord_id: str, username: str, avatar_url: str, playfab_id: str) -> tuple[User, bool]:
    """The user linked to ``discord_id``, created on first sign-in; refreshes the
    Discord name, avatar and PlayFab id on every sign-in. Returns (user, created)."""
    user, created = User.objects.get_or_create(
        discord_id=discord_id,
        defaults={
            "username": f"discord-{discord_id}",
            "discord_username": username,
            "avatar_url": avatar_url,
            "playfab_id": playfab_id,
        },
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        return user, True
    changed = {
        field: value
        for field, value in (("discord_username", username), ("avatar_url", avatar_url), ("playfab_id", playfab_id))
        if getattr(user, field) != value
    }
    if changed:
        for field, value in changed.items():
            setattr(user, field, value)
        user.save(update_fields=list(changed))
    return user, False


def _start_session(identity: Identity, origin: str, ip: str | None, user_agent: str) -> tuple[IssuedTokens, User]:
    with transaction.atomic():
        user, created = user_link_discord(
            discord_id=identity.discord.id,
            username=identity.discord.username,
            avatar_url=identity.discord.avatar_url,
            playfab_id=identity.playfab.playfab_id,
        )
        tokens = session_create(
            user=user,
            ip=ip,
            user_agent=user_agent,
            playfab_ticket_enc=playfab.seal_ticket(ticket=identity.playfab.session_ticket, origin=origin),
            playfab_ticket_expires_at=identity.playfab.expires_at,
        )
    security_log.event("signin.completed", user_id=user.pk, session_id=tokens.session_id, ip=ip, new_user=created)
    return tokens, user


async def signin_finish(
    *, pending: PendingSignin, code: str | None, error: str | None, ip: str | None, user_agent: str
) -> IssuedTokens:
    """Finish the sign-in ``pending`` belongs to; returns the new session's tokens.

    Raises ``ProviderDenied`` (the user declined), ``ProviderError`` /
    ``ProviderUnavailable`` (``discord_*``, ``playfab_*``) or ``StoreUnavailable``;
    nothing (user, session, ticket) is created or changed when it raises.
    """
    if error:
        if error == "access_denied":
            raise ProviderDenied()
        shown = error if error.replace("_", "").isalpha() and len(error) <= 40 else "unknown error"
        raise DiscordFailed(f"Discord could not complete the sign-in ({shown}). Try again.")
    identity = await sync_to_async(_identify, thread_sensitive=False)(pending, code or "")
    tokens, _user = await sync_to_async(_start_session)(identity, pending.origin, ip, user_agent)
    return tokens
