"""The sign-in flow's errors: one class per stable code, in the core's hierarchy.

A provider's trouble is either unavailable (timeouts, 5xx, 429: retry later, 503),
a bad answer we cannot use (502), or a definite refusal (the code says which).
"""
from __future__ import annotations

from sessions_core.errors import ProviderError, ProviderUnavailable


class DiscordUnavailable(ProviderUnavailable):
    code = "discord_unavailable"


class PlayFabUnavailable(ProviderUnavailable):
    code = "playfab_unavailable"


class DiscordNotConfigured(ProviderUnavailable):
    code = "discord_not_configured"
    detail = (
        "Sign-in with Discord is not configured on this server "
        "(DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET are needed)."
    )


class PlayFabNotConfigured(ProviderUnavailable):
    code = "playfab_not_configured"
    detail = "PlayFab is not configured on this server (PLAYFAB_TITLE_ID and PLAYFAB_SECRET_KEY are needed)."


class DiscordBadResponse(ProviderError):
    code = "discord_bad_response"


class PlayFabBadResponse(ProviderError):
    code = "playfab_bad_response"


class DiscordCodeInvalid(ProviderError):
    """RFC 6749 §5.2 ``invalid_grant``, or no usable code on the callback."""

    code = "discord_code_invalid"
    status = 400


class DiscordConfigInvalid(ProviderError):
    """Discord refused this site's client id, secret or redirect URI."""

    code = "discord_config_invalid"


class DiscordFailed(ProviderError):
    """Discord sent an OAuth error on the callback other than ``access_denied``."""

    code = "discord_error"


class PlayFabRefused(ProviderError):
    """PlayFab answered with an error envelope; ``error_code`` is its ``errorCode``."""

    code = "playfab_error"

    def __init__(self, detail: str, *, error: str, error_code: int) -> None:
        super().__init__(detail)
        self.error = error
        self.error_code = error_code


class PlayFabConfigInvalid(PlayFabRefused):
    """PlayFab refused this site's title id or secret key."""

    code = "playfab_config_invalid"


UNAVAILABLE: dict[str, type[ProviderUnavailable]] = {"discord": DiscordUnavailable, "playfab": PlayFabUnavailable}
BAD_RESPONSE: dict[str, type[ProviderError]] = {"discord": DiscordBadResponse, "playfab": PlayFabBadResponse}
