"""The site's pages, the Discord sign-in edge and (development only) the built-in fake providers."""
from django.urls import path
from django.urls.resolvers import RoutePattern

from signin import pages, views
from signin.fakes import discord as fake_discord, playfab as fake_playfab
from signin.fakes.common import DevOnlyResolver

# Mounted only while auth_settings.fake_providers is on (DEBUG and no Discord
# credentials); with DEBUG off every /_dev/ path is a plain 404.
dev_patterns = [
    path("discord/oauth2/authorize", fake_discord.authorize, name="dev-discord-authorize"),
    path("discord/api/oauth2/token", fake_discord.token, name="dev-discord-token"),
    path("discord/api/users/@me", fake_discord.users_me, name="dev-discord-me"),
    path("playfab/Server/LoginWithServerCustomId", fake_playfab.login_with_server_custom_id, name="dev-playfab-login"),
]

urlpatterns = [
    path("", pages.landing, name="landing"),
    path("app", pages.app_page, name="app"),
    path("app/sessions", pages.sessions_part, name="app-sessions"),
    path("auth/discord/login", views.discord_login, name="discord-login"),
    path("auth/discord/callback", views.discord_callback, name="discord-callback"),
    DevOnlyResolver(RoutePattern("_dev/"), dev_patterns),
]
