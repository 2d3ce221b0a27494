"""Discord OAuth2: authorization-code grant with PKCE, then ``GET /users/@me``.

Discord documents the flow in "OAuth2" (developer docs); the protocol is RFC 6749
section 4.1 with PKCE (RFC 7636). The client authenticates at the token endpoint
with HTTP Basic (RFC 6749 section 2.3.1). Every failure is a ``ProviderError``
with a stable code: ``discord_code_invalid`` (invalid_grant: code expired, used,
or the PKCE verifier does not match), ``discord_config_invalid`` (our client id,
secret or redirect URI refused), ``discord_bad_response`` (malformed or unexpected
answers), ``discord_unavailable`` (timeouts, 5xx, throttling; from ``http``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from signin.providers import http
from signin.providers.config import DiscordConfig
from signin.errors import DiscordCodeInvalid, DiscordConfigInvalid

CDN_BASE = "https://cdn.discordapp.com"
_SNOWFLAKE = re.compile(r"\A[0-9]{1,20}\Z")
_AVATAR_HASH = re.compile(r"\A(a_)?[0-9a-f]{32}\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Longest code we pass on (Discord's are 30 characters; anything huge is not one).
MAX_CODE_LENGTH = 512


@dataclass(frozen=True)
class DiscordUser:
    id: str
    username: str
    global_name: str
    avatar_url: str


def authorize_url(cfg: DiscordConfig, *, state: str, code_challenge: str) -> str:
    """The consent page to send the browser to (RFC 6749 section 4.1.1, RFC 7636 section 4.3)."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": cfg.client_id,
            "scope": cfg.scopes,
            "redirect_uri": cfg.redirect_uri,
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{cfg.authorize_url}?{query}"


def exchange_code(cfg: DiscordConfig, *, code: str, code_verifier: str, budget: http.Budget) -> str:
    """Trade an authorization code for an access token (RFC 6749 section 4.1.3); returns the token.

    Raises ``ProviderError`` (``discord_code_invalid``, ``discord_config_invalid``,
    ``discord_bad_response``) or ``ProviderUnavailable`` (``discord_unavailable``).
    """
    if not code or len(code) > MAX_CODE_LENGTH or _CONTROL.search(code):
        raise DiscordCodeInvalid("Discord did not send a usable sign-in code. Start again.")
    answer = http.send(
        "POST", cfg.token_url, service="discord", budget=budget, idempotent=False,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": cfg.redirect_uri,
            "code_verifier": code_verifier,
        },
        auth=(cfg.client_id, cfg.client_secret),
        headers={"Accept": "application/json"},
    )
    body = answer.json()
    if not isinstance(body, dict):
        raise http.bad_response("discord", "an unexpected token answer")
    if answer.status == 200:
        token = body.get("access_token")
        if not isinstance(token, str) or not token or str(body.get("token_type", "")).lower() != "bearer":
            raise http.bad_response("discord", "a token answer without a bearer token")
        return token
    error = body.get("error")
    if answer.status in (400, 401) and error == "invalid_grant":
        # RFC 6749 section 5.2: the code is expired, used, for another redirect
        # URI, or (RFC 7636 section 4.6) the verifier does not match its challenge.
        raise DiscordCodeInvalid(
            "Discord did not accept the sign-in code (it expired or was already used). Sign in again."
        )
    if answer.status in (400, 401) and error in {"invalid_client", "unauthorized_client", "invalid_request"}:
        raise DiscordConfigInvalid(
            "Discord refused this site's sign-in settings (client id, secret or redirect URI). "
            "The site's operator needs to check them.",
        )
    raise http.bad_response("discord", f"an unexpected token answer (HTTP {answer.status})")


def _clean(value: object, limit: int) -> str:
    return _CONTROL.sub("", value)[:limit] if isinstance(value, str) else ""


def fetch_user(cfg: DiscordConfig, *, access_token: str, budget: http.Budget) -> DiscordUser:
    """The signed-in Discord user (``GET /users/@me``, scope ``identify``).

    Raises ``ProviderError`` (``discord_bad_response``) or ``ProviderUnavailable``.
    """
    answer = http.send(
        "GET", cfg.me_url, service="discord", budget=budget, idempotent=True,
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
    )
    if answer.status != 200:
        raise http.bad_response("discord", f"no user for the new token (HTTP {answer.status})")
    body = answer.json()
    if not isinstance(body, dict):
        raise http.bad_response("discord", "an unexpected user answer")
    uid, username = body.get("id"), _clean(body.get("username"), 64)
    if not isinstance(uid, str) or not _SNOWFLAKE.match(uid) or not username:
        raise http.bad_response("discord", "a user without an id or name")
    avatar = body.get("avatar")
    avatar_url = ""
    if isinstance(avatar, str) and _AVATAR_HASH.match(avatar):
        # Discord's image CDN ("Image Formatting" in the developer docs).
        avatar_url = f"{CDN_BASE}/avatars/{uid}/{avatar}.png?size=128"
    return DiscordUser(id=uid, username=username, global_name=_clean(body.get("global_name"), 64), avatar_url=avatar_url)
