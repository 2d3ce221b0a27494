"""System checks (``manage.py check --deploy``)."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .conf import auth_settings


@register(Tags.security, deploy=True)
def check_auth_deploy(app_configs: Any, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    if settings.SECRET_KEY.startswith("dev-insecure") or len(set(settings.SECRET_KEY)) < 5 or len(settings.SECRET_KEY) < 50:
        problems.append(Error("SECRET_KEY is the development key or too weak.", hint="Set SECRET_KEY to 50+ random characters.", id="authsite.E001"))
    if not auth_settings.COOKIE_SECURE:
        problems.append(Error("Auth cookies are not Secure.", hint="Leave AUTHSITE['COOKIE_SECURE'] on.", id="authsite.E002"))
    if auth_settings.COOKIE_SAMESITE != "Strict":
        problems.append(Warning("Auth cookies are not SameSite=Strict.", id="authsite.W003"))
    if not (auth_settings.ACCESS_TOKEN_TTL <= auth_settings.SESSION_IDLE_TTL <= auth_settings.SESSION_ABSOLUTE_TTL):
        problems.append(Error("Token lifetimes are inconsistent: need access <= session idle <= absolute.", id="authsite.E004"))
    if auth_settings.fake_providers:
        problems.append(Error("The built-in fake Discord/PlayFab are enabled.", hint="Set DEBUG off and Discord credentials.", id="authsite.E005"))
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        problems.append(Error("Rate limits are off.", id="authsite.E006"))
    return problems
