"""The built-in fake Discord (development only, under ``/_dev/discord/``).

It checks what Discord checks, so the real client code runs end to end:
the authorize page refuses an unknown client id, a redirect URI other than
this site's callback, or a missing S256 challenge (and then never redirects:
RFC 6749 section 4.1.2.1); the token endpoint authenticates the client, takes
each code once, and verifies the PKCE verifier (RFC 7636 section 4.6); the user
endpoint wants the bearer token it issued. Codes and tokens live in Redis with
a TTL, so several worker processes serve one flow.
"""
from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sessions_core.tokens import crypto

from sessions_core.store import keys as redis_keys
from sessions_core.store.client import get_redis
from signin.providers.config import CALLBACK_PATH, DEV_DISCORD_CLIENT_ID, DEV_DISCORD_CLIENT_SECRET, origin_of
from signin.fakes.common import dev_only
from signin.oauth_state import digest, s256_challenge

CODE_TTL = 600  # Discord's codes are short-lived; ten minutes, as RFC 6749 section 4.1.2 suggests at most.
TOKEN_TTL = 3600
_USERNAME = re.compile(r"\A[A-Za-z0-9_.]{2,32}\Z")
_SNOWFLAKE = re.compile(r"\A[0-9]{17,20}\Z")
_CHALLENGE = re.compile(r"\A[A-Za-z0-9_-]{43}\Z")
_VERIFIER = re.compile(r"\A[A-Za-z0-9._~-]{43,128}\Z")
_AUTHORIZE_FIELDS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method")


def fake_discord_id(username: str) -> str:
    """A stable 18-digit snowflake for ``username`` (same name, same account)."""
    n = int.from_bytes(crypto.keyed_digest("dev.discord.id", username.lower())[:8], "big")
    return str(10**17 + n % (9 * 10**17))


def _authorize_problem(request: HttpRequest, params: dict[str, str]) -> str | None:
    if params["response_type"] != "code":
        return "response_type must be code"
    if params["client_id"] != DEV_DISCORD_CLIENT_ID:
        return "unknown client_id"
    if params["redirect_uri"] != f"{origin_of(request)}{CALLBACK_PATH}":
        return "redirect_uri is not registered for this application"
    if "identify" not in params["scope"].split():
        return "scope must include identify"
    if params["code_challenge_method"] != "S256" or not _CHALLENGE.match(params["code_challenge"]):
        return "an S256 code_challenge is required"
    return None


def _redirect_back(params: dict[str, str], **extra: str) -> HttpResponseRedirect:
    query = {**extra, **({"state": params["state"]} if params["state"] else {})}
    return HttpResponseRedirect(f"{params['redirect_uri']}?{urlencode(query)}")


@dev_only
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    """Discord's consent page: GET shows the form, POST approves (or cancels) and redirects back."""
    source = request.POST if request.method == "POST" else request.GET
    params = {k: source.get(k, "") for k in _AUTHORIZE_FIELDS}
    problem = _authorize_problem(request, params)
    if problem:
        return render(request, "dev/discord_authorize.html", {"problem": problem}, status=400)
    if request.method == "GET":
        return render(request, "dev/discord_authorize.html", {"params": params})
    if request.POST.get("action") == "cancel":
        return _redirect_back(params, error="access_denied", error_description="The resource owner denied the request")
    username = request.POST.get("username", "").strip()
    discord_id = request.POST.get("discord_id", "").strip() or (fake_discord_id(username) if username else "")
    errors = []
    if not _USERNAME.match(username):
        errors.append("Username: 2 to 32 letters, digits, '_' or '.'.")
    if not _SNOWFLAKE.match(discord_id):
        errors.append("Discord id: 17 to 20 digits, or leave it empty.")
    if errors:
        ctx = {"params": params, "errors": errors, "username": username, "discord_id": request.POST.get("discord_id", "")}
        return render(request, "dev/discord_authorize.html", ctx, status=400)
    code = secrets.token_urlsafe(24)
    grant = {
        "client_id": params["client_id"], "redirect_uri": params["redirect_uri"],
        "challenge": params["code_challenge"], "scope": params["scope"],
        "user": {"id": discord_id, "username": username.lower(), "global_name": username},
    }
    get_redis().set(redis_keys.dev_provider("code", digest(code)), json.dumps(grant), ex=CODE_TTL)
    return _redirect_back(params, code=code)


def _oauth_error(error: str, status: int = 400) -> JsonResponse:
    # RFC 6749 section 5.2 error answer.
    return JsonResponse({"error": error}, status=status)


def _client_credentials(request: HttpRequest) -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return "", ""
        return user, password
    return request.POST.get("client_id", ""), request.POST.get("client_secret", "")


@csrf_exempt
@dev_only
@require_POST
def token(request: HttpRequest) -> HttpResponse:
    """``POST /api/oauth2/token``: authorization_code grant with PKCE."""
    client_id, secret = _client_credentials(request)
    if not (
        hmac.compare_digest(client_id.encode(), DEV_DISCORD_CLIENT_ID.encode())
        and hmac.compare_digest(secret.encode(), DEV_DISCORD_CLIENT_SECRET.encode())
    ):
        return _oauth_error("invalid_client", 401)
    if request.POST.get("grant_type") != "authorization_code":
        return _oauth_error("unsupported_grant_type")
    code = request.POST.get("code", "")
    raw = get_redis().getdel(redis_keys.dev_provider("code", digest(code))) if code else None
    if raw is None:
        return _oauth_error("invalid_grant")
    grant: dict[str, Any] = json.loads(raw)
    verifier = request.POST.get("code_verifier", "")
    if (
        grant["client_id"] != client_id
        or request.POST.get("redirect_uri") != grant["redirect_uri"]
        or not _VERIFIER.match(verifier)
        or not hmac.compare_digest(s256_challenge(verifier), grant["challenge"])
    ):
        return _oauth_error("invalid_grant")
    access = secrets.token_urlsafe(24)
    get_redis().set(redis_keys.dev_provider("token", digest(access)), json.dumps(grant["user"]), ex=TOKEN_TTL)
    return JsonResponse(
        {
            "access_token": access, "token_type": "Bearer", "expires_in": TOKEN_TTL,
            "refresh_token": secrets.token_urlsafe(24), "scope": grant["scope"],
        }
    )


@dev_only
@require_GET
def users_me(request: HttpRequest) -> HttpResponse:
    """``GET /api/users/@me`` for the bearer token the token endpoint issued."""
    header = request.headers.get("Authorization", "")
    raw = get_redis().get(redis_keys.dev_provider("token", digest(header[7:]))) if header.startswith("Bearer ") else None
    if raw is None:
        return JsonResponse({"message": "401: Unauthorized", "code": 0}, status=401)
    user = json.loads(raw)
    return JsonResponse({**user, "avatar": None, "discriminator": "0", "public_flags": 0, "flags": 0})
