"""What the built-in fakes share: the guard that keeps them out of production."""
from __future__ import annotations

import functools
from typing import Any, Callable

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLResolver
from django.urls.exceptions import Resolver404

from sessions_core.conf import auth_settings

SyncView = Callable[..., HttpResponse]


def dev_only(view: SyncView) -> SyncView:
    """404 unless fake providers are on (a second lock behind :class:`DevOnlyResolver`)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not auth_settings.fake_providers:
            raise Http404()
        return view(request, *args, **kwargs)

    return wrapped


class DevOnlyResolver(URLResolver):
    """A URL prefix that exists only while ``auth_settings.fake_providers`` is on.

    Checked on every resolve (not once at import), so with ``DEBUG`` off the
    prefix matches nothing at all, exactly like a path that was never mounted.
    """

    def resolve(self, path: str) -> Any:
        if not auth_settings.fake_providers:
            raise Resolver404({"tried": [], "path": path})
        return super().resolve(path)
