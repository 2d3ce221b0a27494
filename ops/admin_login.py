"""A throttle on the admin's login form (the site's rate limits, per client IP)."""
from __future__ import annotations

import functools
from typing import Any, Callable

from django.http import HttpRequest, HttpResponse
from sessions_core import ratelimits, security_log
from sessions_core.client_ip import client_ip
from sessions_core.conf import auth_settings


def throttled(login_view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap ``AdminSite.login``: past ``RATE_ADMIN_LOGIN`` POSTs per client IP, answer
    429 with ``Retry-After`` without checking the password (no guessing at speed)."""

    @functools.wraps(login_view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            ip = client_ip(request) or "unknown"
            usage = ratelimits.usage(request, group="admin.login", rate=auth_settings.RATE_ADMIN_LOGIN, key=ip)
            if usage is not None and usage["should_limit"]:
                security_log.event("ratelimit.hit", group="admin.login", ip=ip)
                resp = HttpResponse(
                    "Too many sign-in attempts; retry later.", status=429, content_type="text/plain; charset=utf-8"
                )
                resp["Retry-After"] = str(max(1, int(usage.get("time_left", 1))))
                return resp
        return login_view(request, *args, **kwargs)

    return wrapped
