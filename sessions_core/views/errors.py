"""Error views: CSRF failures answer JSON with a stable code on the API, a page elsewhere."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from sessions_core.errors import CsrfFailed


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    err = CsrfFailed("The request was refused: missing or wrong CSRF token. Reload the page and try again.")
    if request.path.startswith(("/auth/", "/hub")) or request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(err.as_dict(), status=err.status)
    return render(request, "error.html", {"title": "Request refused", "message": err.detail}, status=err.status)
