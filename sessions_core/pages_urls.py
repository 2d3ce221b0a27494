"""Pages, the Discord sign-in edge, and (development only) the built-in fake providers."""
from django.urls import path
from django.urls.resolvers import RoutePattern

from .providers import fakes_discord, fakes_playfab
from .providers.fakes_common import DevOnlyResolver
from .views import pages, signin

# Mounted only while auth_settings.fake_providers is on (DEBUG and no Discord
# credentials); with DEBUG off every /_dev/ path is a plain 404.
dev_patterns = [
    path("discord/oauth2/authorize", fakes_discord.authorize, name="dev-discord-authorize"),
    path("discord/api/oauth2/token", fakes_discord.token, name="dev-discord-token"),
    path("discord/api/users/@me", fakes_discord.users_me, name="dev-discord-me"),
    path("playfab/Server/LoginWithServerCustomId", fakes_playfab.login_with_server_custom_id, name="dev-playfab-login"),
]

urlpatterns = [
    path("", pages.landing, name="landing"),
    path("app", pages.app_page, name="app"),
    path("auth/discord/login", signin.discord_login, name="discord-login"),
    path("auth/discord/callback", signin.discord_callback, name="discord-callback"),
    DevOnlyResolver(RoutePattern("_dev/"), dev_patterns),
]
