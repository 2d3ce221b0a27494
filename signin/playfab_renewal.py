"""Keeping a session's PlayFab ticket alive.

A refresh that wins its rotation sends ``session_rotated``; :func:`on_session_rotated`
calls :func:`playfab_renew_if_due`: when the
ticket is missing, unreadable or within ``PLAYFAB_RENEW_BEFORE`` of its expiry,
the player is logged in again (``LoginWithServerCustomId`` keyed by the Discord
id) and the new ticket replaces the old one in the session row. PlayFab trouble
never logs anyone out of the site: a failed renewal keeps the session and the
old ticket, and the next refresh tries again.

:func:`playfab_call_with_ticket` is how a feature calls PlayFab with the
session's ticket: on PlayFab's ticket errors (``InvalidSessionTicket`` 1100,
``NotAuthenticated`` 1074, ``EntityTokenExpired`` 1336) it logs in again once
and repeats the call.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError
from django.utils import timezone

from sessions_core import security_log
from sessions_core.conf import auth_settings
from sessions_core.errors import ProviderError
from sessions_core.models import AuthSession, SessionState, User
from signin.providers import http, playfab
from signin.providers.config import PlayFabConfig, playfab_config

log = logging.getLogger("authsite.providers")
T = TypeVar("T")


def playfab_ticket_due(*, session: AuthSession) -> bool:
    """True when the session has no readable ticket or it expires within ``PLAYFAB_RENEW_BEFORE``."""
    expires = session.playfab_ticket_expires_at
    if expires is None or playfab.open_ticket(session.playfab_ticket_enc) is None:
        return True
    return expires - timezone.now() <= auth_settings.PLAYFAB_RENEW_BEFORE


def _origin(session: AuthSession) -> str:
    sealed = playfab.open_ticket(session.playfab_ticket_enc)
    return sealed.origin if sealed else ""


def _config_for(origin: str) -> PlayFabConfig | None:
    if auth_settings.fake_providers and not origin:
        # The fake lives at the origin the sign-in used; without it there is nowhere to go.
        return None
    return playfab_config(origin=origin)


def playfab_session_renew(*, session: AuthSession) -> bool:
    """Log the session's player into PlayFab again and store the new ticket; True if stored.

    Never raises ``ProviderError`` or ``DatabaseError``: failures are logged
    (``playfab.renew_failed``) and leave the session as it was.
    """
    user: User = session.user
    if not user.discord_id:
        return False
    origin = _origin(session)
    try:
        cfg = _config_for(origin)
        if cfg is None:
            return False
        login = playfab.login_with_server_custom_id(
            cfg, custom_id=user.discord_id, budget=http.Budget.of(float(auth_settings.PLAYFAB_RENEW_BUDGET))
        )
    except ProviderError as e:
        security_log.event("playfab.renew_failed", user_id=user.pk, session_id=session.id.hex, error=e.code)
        return False
    enc = playfab.seal_ticket(ticket=login.session_ticket, origin=origin)
    try:
        stored = AuthSession.objects.filter(pk=session.pk, state=SessionState.ACTIVE).update(
            playfab_ticket_enc=enc, playfab_ticket_expires_at=login.expires_at
        )
        if login.playfab_id != user.playfab_id:
            User.objects.filter(pk=user.pk).update(playfab_id=login.playfab_id)
    except DatabaseError:
        log.warning("storing a renewed PlayFab ticket failed for session %s", session.id.hex, exc_info=True)
        return False
    if stored:
        session.playfab_ticket_enc, session.playfab_ticket_expires_at = enc, login.expires_at
    security_log.event("playfab.renewed", user_id=user.pk, session_id=session.id.hex)
    return bool(stored)


def playfab_renew_if_due(*, session: AuthSession) -> bool:
    """Renew the session's ticket when :func:`playfab_ticket_due`; True if renewed.

    The refresh hook: it never raises for PlayFab or database trouble, so a
    PlayFab hiccup can never fail a refresh (and so never signs anyone out).
    """
    if not playfab_ticket_due(session=session):
        return False
    return playfab_session_renew(session=session)


def playfab_call_with_ticket(*, session: AuthSession, call: Callable[[PlayFabConfig, str, http.Budget], T]) -> T:
    """Run ``call(config, ticket, budget)`` with the session's ticket, logging in again once
    if PlayFab says the ticket is no good (``playfab.TICKET_ERRORS``).

    Raises what ``call`` raises (``ProviderError`` and kin) when a renewal does
    not help; ``ProviderUnavailable`` (``playfab_unavailable``) when no ticket can be had.
    """
    if playfab_ticket_due(session=session):
        playfab_session_renew(session=session)
    sealed = playfab.open_ticket(session.playfab_ticket_enc)
    cfg = _config_for(sealed.origin if sealed else "")
    if sealed is None or cfg is None:
        raise http.unavailable("playfab", "no session ticket")
    budget = http.Budget.of(float(auth_settings.PLAYFAB_RENEW_BUDGET))
    try:
        return call(cfg, sealed.ticket, budget)
    except playfab.PlayFabRefused as e:
        if e.error_code not in playfab.TICKET_ERRORS or not playfab_session_renew(session=session):
            raise
    renewed = playfab.open_ticket(session.playfab_ticket_enc)
    if renewed is None:
        raise http.unavailable("playfab", "no session ticket")
    return call(cfg, renewed.ticket, http.Budget.of(float(auth_settings.PLAYFAB_RENEW_BUDGET)))


def on_session_rotated(sender: object, session: AuthSession, **kwargs: object) -> None:
    """Receiver of ``sessions_core.signals.session_rotated``: renew the ticket when due (never raises)."""
    playfab_renew_if_due(session=session)
