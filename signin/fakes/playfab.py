"""The built-in fake PlayFab Server API (development only, under ``/_dev/playfab/``).

Answers in PlayFab's envelope and checks what PlayFab checks: the title's
secret key in ``X-SecretKey``, a JSON body, a ``ServerCustomId``. Player ids are
stable per custom id (derived, so a Redis flush changes nothing); whether the
player is new is remembered in Redis.
"""
from __future__ import annotations

import hmac
import json
import secrets
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sessions_core.tokens import crypto

from sessions_core.store import keys as redis_keys
from sessions_core.store.client import get_redis
from signin.providers.config import DEV_PLAYFAB_SECRET_KEY
from signin.fakes.common import dev_only
from signin.oauth_state import digest

PLAYER_TTL = 30 * 24 * 3600


def _error(status: int, status_text: str, error: str, code: int, message: str) -> JsonResponse:
    return JsonResponse(
        {"code": status, "status": status_text, "error": error, "errorCode": code, "errorMessage": message},
        status=status,
    )


def fake_playfab_id(custom_id: str) -> str:
    """PlayFab ids are 16 hex digits; the same custom id always gets the same one."""
    return crypto.keyed_digest("dev.playfab.id", custom_id)[:8].hex().upper()


@csrf_exempt
@dev_only
@require_POST
def login_with_server_custom_id(request: HttpRequest) -> HttpResponse:
    """``POST /Server/LoginWithServerCustomId``."""
    key = request.headers.get("X-SecretKey", "")
    if not hmac.compare_digest(key.encode(), DEV_PLAYFAB_SECRET_KEY.encode()):
        return _error(401, "Unauthorized", "NotAuthenticated", 1074, "This API method requires a valid title secret key.")
    try:
        body: Any = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "BadRequest", "InvalidParams", 1000, "The request body is not JSON.")
    custom_id = body.get("ServerCustomId") if isinstance(body, dict) else None
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= 100:
        return _error(400, "BadRequest", "InvalidParams", 1000, "ServerCustomId is required.")
    seen_key = redis_keys.dev_provider("pf", digest(custom_id))
    r = get_redis()
    known = bool(r.exists(seen_key))
    if not known and not body.get("CreateAccount"):
        return _error(400, "BadRequest", "AccountNotFound", 1001, "No player has this custom id.")
    created = bool(r.set(seen_key, "1", nx=True, ex=PLAYER_TTL)) if not known else False
    pid = fake_playfab_id(custom_id)
    return JsonResponse(
        {
            "code": 200,
            "status": "OK",
            "data": {
                "PlayFabId": pid,
                "SessionTicket": f"{pid}--{secrets.token_hex(8).upper()}-{secrets.token_urlsafe(24)}",
                "NewlyCreated": created,
                "SettingsForUser": {"NeedsAttribution": False, "GatherDeviceInfo": False, "GatherFocusInfo": False},
            },
        }
    )
