"""Where the identity providers live: the real services, or the built-in fakes.

With fake providers on (``DEBUG`` and no Discord credentials, see
``auth_settings.fake_providers``) Discord and PlayFab are this site's own
``/_dev/`` endpoints, reached over HTTP at the origin the request came in on
(never a fixed address, so any port and a proxy work), with development
credentials the fakes check exactly as the real services check theirs.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from sessions_core.conf import auth_settings
from signin.errors import DiscordNotConfigured, PlayFabNotConfigured

CALLBACK_PATH = "/auth/discord/callback"
FAKE_PREFIX = "/_dev"
# Development credentials of the built-in fakes. They are not secrets: the
# fakes exist only with DEBUG on, and they refuse anything else, as the real
# services refuse wrong credentials.
DEV_DISCORD_CLIENT_ID = "authsite-dev-client"
DEV_DISCORD_CLIENT_SECRET = "authsite-dev-client-secret"
DEV_PLAYFAB_TITLE_ID = "DEV00"
DEV_PLAYFAB_SECRET_KEY = "authsite-dev-playfab-secret-key"


@dataclass(frozen=True)
class DiscordConfig:
    client_id: str
    client_secret: str
    authorize_url: str
    api_base: str
    redirect_uri: str
    scopes: str

    @property
    def token_url(self) -> str:
        return f"{self.api_base}/oauth2/token"

    @property
    def me_url(self) -> str:
        return f"{self.api_base}/users/@me"


@dataclass(frozen=True)
class PlayFabConfig:
    title_id: str
    secret_key: str
    api_base: str

    def url(self, api: str) -> str:
        """A Server API endpoint, e.g. ``LoginWithServerCustomId``."""
        return f"{self.api_base}/Server/{api}"


def origin_of(request: HttpRequest) -> str:
    """``scheme://host[:port]`` as the client reached us (``get_host`` enforces ALLOWED_HOSTS)."""
    return f"{request.scheme}://{request.get_host()}"


def discord_config(*, origin: str) -> DiscordConfig:
    """The Discord endpoints and credentials to use for a request reaching ``origin``.

    Raises ``ProviderUnavailable`` (``discord_not_configured``) when the real
    Discord is selected but its credentials are missing.
    """
    scopes = str(auth_settings.DISCORD_SCOPES)
    if auth_settings.fake_providers:
        return DiscordConfig(
            client_id=DEV_DISCORD_CLIENT_ID,
            client_secret=DEV_DISCORD_CLIENT_SECRET,
            authorize_url=f"{origin}{FAKE_PREFIX}/discord/oauth2/authorize",
            api_base=f"{origin}{FAKE_PREFIX}/discord/api",
            redirect_uri=f"{origin}{CALLBACK_PATH}",
            scopes=scopes,
        )
    client_id, secret = str(auth_settings.DISCORD_CLIENT_ID), str(auth_settings.DISCORD_CLIENT_SECRET)
    if not client_id or not secret:
        raise DiscordNotConfigured()
    return DiscordConfig(
        client_id=client_id,
        client_secret=secret,
        authorize_url=str(auth_settings.DISCORD_AUTHORIZE_URL),
        api_base=str(auth_settings.DISCORD_API_BASE).rstrip("/"),
        redirect_uri=str(auth_settings.DISCORD_REDIRECT_URI) or f"{origin}{CALLBACK_PATH}",
        scopes=scopes,
    )


def playfab_config(*, origin: str) -> PlayFabConfig:
    """The PlayFab title to log players into (``origin`` locates the fake).

    Raises ``ProviderUnavailable`` (``playfab_not_configured``) when the real
    PlayFab is selected but its title id or secret key is missing.
    """
    if auth_settings.fake_providers:
        return PlayFabConfig(
            title_id=DEV_PLAYFAB_TITLE_ID,
            secret_key=DEV_PLAYFAB_SECRET_KEY,
            api_base=f"{origin}{FAKE_PREFIX}/playfab",
        )
    title, key = str(auth_settings.PLAYFAB_TITLE_ID), str(auth_settings.PLAYFAB_SECRET_KEY)
    if not title or not key:
        raise PlayFabNotConfigured()
    # Each title has its own API host (PlayFab API reference, "Server" section).
    base = str(auth_settings.PLAYFAB_API_BASE) or f"https://{title}.playfabapi.com"
    return PlayFabConfig(title_id=title, secret_key=key, api_base=base.rstrip("/"))
