"""Server-rendered pages."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie


@ensure_csrf_cookie
def landing(request: HttpRequest) -> HttpResponse:
    """The sign-in page; sets ``csrftoken`` for anonymous visitors."""
    return render(request, "landing.html", {})
