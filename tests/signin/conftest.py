"""Fixtures for the sign-in tests: the built-in fakes (DEBUG on) and the loopback fake server."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client

from signin.providers import http as provider_http
from tests.support.fake_providers_server import FakeProviders

# Small numbers so failure paths take a fraction of a second.
FAST = {
    "PROVIDER_TIMEOUT": 0.5,
    "PROVIDER_RETRIES": 2,
    "PROVIDER_BACKOFF": 0.01,
    "PROVIDER_BUDGET": 5.0,
    "PROVIDER_RETRY_AFTER_MAX": 5.0,
    "PLAYFAB_RENEW_BUDGET": 2.0,
}


def configure(settings: Any, **values: Any) -> None:
    settings.AUTHSITE = {**settings.AUTHSITE, **values}


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Waits the provider client asked for, recorded instead of slept."""
    seen: list[float] = []
    monkeypatch.setattr(provider_http, "sleep", seen.append)
    return seen


@pytest.fixture
def loopback(settings: Any, waits: list[float]) -> Iterator[FakeProviders]:
    """Real Discord/PlayFab settings pointing at a loopback fake server (fakes under /_dev/ off)."""
    with FakeProviders() as server:
        settings.DEBUG = False
        configure(settings, **FAST, **server.settings())
        yield server


@pytest.fixture
def builtin_fakes(settings: Any, live_server: Any) -> Iterator[Client]:
    """DEBUG on, no Discord credentials: the built-in fakes, reached over real HTTP.

    The test client talks to the site in-process with the live server's host, so
    the provider calls the site makes (to the origin the request came in on)
    reach the same site over HTTP, served by the live server thread.
    """
    settings.DEBUG = True
    configure(settings, **FAST, DISCORD_CLIENT_ID="", DISCORD_CLIENT_SECRET="", FAKE_PROVIDERS=None)
    host = urlsplit(live_server.url).netloc
    yield Client(HTTP_HOST=host)


def location_path(resp: Any) -> str:
    """The path+query of a redirect within the site."""
    parts = urlsplit(resp["Location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def form_fields(html: str) -> dict[str, str]:
    """Hidden fields of the fake authorize form."""
    import html as html_lib

    return {k: html_lib.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)}


def loopback_authorize(resp: Any) -> str:
    """Follow the site's redirect to the loopback authorize endpoint; returns the callback path+query."""
    answer = requests.get(resp["Location"], allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    parts = urlsplit(answer.headers["Location"])
    return f"{parts.path}?{parts.query}"


class LoopbackBrowser(requests.Session):
    """A ``requests`` session that keeps cookies the way browsers do on http://127.0.0.1.

    Browsers treat loopback as a secure context and send ``Secure`` cookies to it;
    ``http.cookiejar`` does not (and ``requests`` merges cookies into a fresh jar
    with the default policy), so the Cookie header is computed from our own jar.
    """

    def __init__(self) -> None:
        super().__init__()
        from http.cookiejar import DefaultCookiePolicy

        from requests.cookies import RequestsCookieJar

        self.cookies = RequestsCookieJar(policy=DefaultCookiePolicy(secure_protocols=("https", "wss", "http")))

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        prepared.headers.pop("Cookie", None)
        prepared.prepare_cookies(self.cookies)
        return prepared
