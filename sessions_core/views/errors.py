"""Error views: CSRF failures answer JSON with a stable code on the API, a page elsewhere."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    detail = "The request was refused: missing or wrong CSRF token. Reload the page and try again."
    if request.path.startswith(("/auth/", "/hub")) or request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"error": "csrf_failed", "detail": detail}, status=403)
    return render(request, "error.html", {"title": "Request refused", "message": detail}, status=403)
