"""PlayFab Server API: log a player in by their Discord id, check session tickets.

Every Server API call is a POST with the title's secret key in ``X-SecretKey``
and answers with an envelope: ``{"code": 200, "status": "OK", "data": {...}}``
on success, ``{"code", "status", "error", "errorCode", "errorMessage"}`` on
failure (throttling adds ``retryAfterSeconds``, which ``http`` honours). Calls
are idempotent for our purposes (logging in again just issues a new ticket), so
they are retried on timeouts as well.

The session ticket is a credential: it lives only inside the session record,
encrypted (:func:`seal_ticket`), and is never logged or sent to the browser.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from sessions_core.tokens import crypto
from sessions_core.conf import auth_settings
from signin.errors import PlayFabConfigInvalid, PlayFabRefused
from signin.providers import http
from signin.providers.config import PlayFabConfig

log = logging.getLogger("authsite.providers")

# PlayFab error codes meaning "this ticket is no good any more: log in again"
# (PlayFab API reference, PlayFabErrorCode): InvalidSessionTicket,
# NotAuthenticated, EntityTokenExpired.
TICKET_ERRORS = frozenset({1100, 1074, 1336})
_PLAYFAB_ID = re.compile(r"\A[0-9A-Fa-f]{1,32}\Z")


@dataclass(frozen=True)
class PlayFabLogin:
    playfab_id: str
    session_ticket: str
    newly_created: bool
    expires_at: datetime


def _call(cfg: PlayFabConfig, api: str, payload: dict[str, Any], budget: http.Budget) -> dict[str, Any]:
    answer = http.send(
        "POST", cfg.url(api), service="playfab", budget=budget, idempotent=True,
        json=payload, headers={"X-SecretKey": cfg.secret_key, "Accept": "application/json"},
    )
    body = answer.json()
    if not isinstance(body, dict):
        raise http.bad_response("playfab", "an answer that is not an API envelope")
    if answer.status == 200 and body.get("code") == 200:
        data = body.get("data")
        if not isinstance(data, dict):
            raise http.bad_response("playfab", "a success envelope without data")
        return data
    error, error_code = body.get("error"), body.get("errorCode")
    if not isinstance(error, str) or not isinstance(error_code, int) or isinstance(error_code, bool):
        raise http.bad_response("playfab", f"an unexpected answer (HTTP {answer.status})")
    # errorMessage can be long and specific; it goes to the log, the page gets the stable name.
    log.warning("playfab %s refused: %s %s (%s)", api, error, error_code, str(body.get("errorMessage", ""))[:200])
    if answer.status == 401 and api == "LoginWithServerCustomId":
        raise PlayFabConfigInvalid(
            "PlayFab refused this site's title id or secret key; the site's operator needs to check them.",
            error=error, error_code=error_code,
        )
    raise PlayFabRefused(f"PlayFab refused the request: {error} ({error_code}).", error=error, error_code=error_code)


def login_with_server_custom_id(cfg: PlayFabConfig, *, custom_id: str, budget: http.Budget) -> PlayFabLogin:
    """Log in (creating the player if new) with ``custom_id`` (the Discord id).

    Raises ``PlayFabRefused`` (``playfab_error``, ``playfab_config_invalid``),
    ``ProviderError`` (``playfab_bad_response``) or ``ProviderUnavailable`` (``playfab_unavailable``).
    """
    data = _call(cfg, "LoginWithServerCustomId", {"ServerCustomId": custom_id, "CreateAccount": True}, budget)
    pid, ticket = data.get("PlayFabId"), data.get("SessionTicket")
    if not isinstance(pid, str) or not _PLAYFAB_ID.match(pid) or not isinstance(ticket, str) or not ticket:
        raise http.bad_response("playfab", "a login without a player id or session ticket")
    return PlayFabLogin(
        playfab_id=pid,
        session_ticket=ticket,
        newly_created=bool(data.get("NewlyCreated")),
        # Tickets are good for 24 hours from login (PlayFab "Login basics").
        expires_at=timezone.now() + auth_settings.PLAYFAB_TICKET_TTL,
    )


def authenticate_session_ticket(cfg: PlayFabConfig, *, ticket: str, budget: http.Budget) -> str:
    """The PlayFab id a session ticket belongs to (``/Server/AuthenticateSessionTicket``).

    Raises ``PlayFabRefused`` (``error_code`` in ``TICKET_ERRORS`` when the ticket
    is no longer good), ``ProviderError`` or ``ProviderUnavailable``.
    """
    data = _call(cfg, "AuthenticateSessionTicket", {"SessionTicket": ticket}, budget)
    info = data.get("UserInfo")
    pid = info.get("PlayFabId") if isinstance(info, dict) else None
    if not isinstance(pid, str) or not pid:
        raise http.bad_response("playfab", "a ticket check without a player id")
    return pid


@dataclass(frozen=True)
class SealedTicket:
    """A session ticket as kept in the session row, with where it was obtained."""

    ticket: str
    # The origin the sign-in came in on: locates the built-in fake PlayFab when
    # a refresh (which has no page origin of its own) renews the ticket.
    origin: str


def seal_ticket(*, ticket: str, origin: str) -> str:
    """Encrypt a ticket for ``AuthSession.playfab_ticket_enc``."""
    return crypto.encrypt(json.dumps({"t": ticket, "o": origin}).encode())


def open_ticket(sealed: str) -> SealedTicket | None:
    """The ticket inside ``sealed``, or ``None`` when there is none or it cannot be read
    (e.g. ``SECRET_KEY`` rotated without a fallback): then it is simply renewed."""
    if not sealed:
        return None
    try:
        data = json.loads(crypto.decrypt(sealed))
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        return None
    return SealedTicket(ticket=data["t"], origin=str(data.get("o", "")))
