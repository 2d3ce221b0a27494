"""``POST /hub/negotiate``: the HTTP half of the SignalR connection handshake."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from sessions_core import ratelimits, security_log
from sessions_core.conf import auth_settings
from sessions_core.errors import AuthError
from sessions_core.views.http import allow_methods, client_ip, error_response

from realtime import negotiation
from realtime.auth import authenticate_access_token


def _bearer(request: HttpRequest) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


# CSRF exemption: this endpoint authenticates only by the Bearer access token
# the caller's script put in the Authorization header (RFC 6750 §2.1). It reads
# no cookie, so a cross-site form or fetch carries no ambient credential that
# could be abused; the official client also sends no CSRF token here.
@csrf_exempt
@allow_methods("POST")
async def negotiate(request: HttpRequest) -> HttpResponse:
    """Validate the Bearer token and offer WebSockets (text) with a single-use connection token.

    ``negotiateVersion`` 1 answers ``connectionId`` + ``connectionToken``; version 0
    (or none) answers ``connectionId`` only, which then goes in ``?id=``.
    Errors: 401 JSON (``{"error", "detail"}``) with ``WWW-Authenticate`` (RFC 6750 §3);
    429 past ``RATE_NEGOTIATE`` per client IP (checked before the token) or per
    session. A refused call stores no connection token.
    """
    rate = auth_settings.RATE_NEGOTIATE
    try:
        await ratelimits.check(request, group="hub.negotiate.ip", rate=rate, key=client_ip(request) or "unknown")
        principal = await authenticate_access_token(_bearer(request))
        await ratelimits.check(request, group="hub.negotiate.sid", rate=rate, key=principal.sid)
        connection_id, token = await negotiation.create(principal)
    except AuthError as e:
        security_log.event("hub.negotiate_refused", reason=e.code, ip=client_ip(request))
        resp = error_response(e)
        if e.status == 401:
            resp["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{e.code}"'
        return resp
    try:
        requested = int(request.GET.get("negotiateVersion", "0"))
    except ValueError:
        requested = 0
    body: dict[str, object] = {
        "negotiateVersion": negotiation.NEGOTIATE_VERSION if requested >= 1 else 0,
        "connectionId": connection_id if requested >= 1 else token,
        "availableTransports": [{"transport": "WebSockets", "transferFormats": ["Text"]}],
    }
    if requested >= 1:
        body["connectionToken"] = token
    resp = JsonResponse(body)
    resp["Cache-Control"] = "no-store"
    return resp
