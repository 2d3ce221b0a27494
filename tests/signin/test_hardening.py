"""Security review findings on the sign-in edge: deactivated accounts, client IPs
behind proxies, the OAuth state and a foreign browser, the login rate limit."""
from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from sessions_core.models import AuthSession, User
from tests.signin.conftest import configure, loopback_authorize
from tests.support.fake_providers_server import FakeProviders

pytestmark = pytest.mark.django_db(transaction=True)

PROXY = "10.0.0.5"  # the reverse proxy's address: what the app sees as the peer


def test_a_deactivated_account_cannot_sign_back_in(loopback: FakeProviders) -> None:
    User.objects.create(username="discord-nelly", discord_id=loopback.user["id"], is_active=False)
    c = Client()
    resp = c.get(loopback_authorize(c.get("/auth/discord/login")))
    assert resp.status_code == 401
    page = resp.content.decode()
    assert "account_disabled" in page and "This account is disabled" in page and "has been disabled" in page
    assert SESSION_COOKIE not in resp.cookies and REFRESH_COOKIE not in resp.cookies
    assert AuthSession.objects.count() == 0


def test_forged_forwarded_for_values_do_not_bypass_the_login_limit(loopback: FakeProviders, settings: Any) -> None:
    """Behind one proxy, a client rotating X-Forwarded-For values stays one client."""
    configure(settings, TRUSTED_PROXY_HOPS=1, RATE_LOGIN="20/m")
    answers = []
    for n in range(25):
        # The proxy appends the address it saw (203.0.113.7) to whatever the client sent.
        c = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.7")
        answers.append(c.get("/auth/discord/login").status_code)
    assert answers.count(302) == 20 and answers[20:] == [429] * 5
    # Another client behind the same proxy has its own budget.
    other = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="192.0.2.44")
    assert other.get("/auth/discord/login").status_code == 302


def test_the_device_list_shows_the_real_client_ip(loopback: FakeProviders, settings: Any) -> None:
    configure(settings, TRUSTED_PROXY_HOPS=1)
    c = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert c.get(loopback_authorize(c.get("/auth/discord/login"))).status_code == 200
    listed = c.get("/auth/sessions").json()["sessions"]
    assert [s["ip"] for s in listed] == ["203.0.113.7"]


def test_without_trusted_hops_the_header_is_ignored(loopback: FakeProviders, settings: Any) -> None:
    configure(settings, TRUSTED_PROXY_HOPS=0)
    c = Client(REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert c.get(loopback_authorize(c.get("/auth/discord/login"))).status_code == 200
    assert [s["ip"] for s in c.get("/auth/sessions").json()["sessions"]] == ["192.0.2.10"]


def test_a_foreign_browser_cannot_burn_someone_elses_state(loopback: FakeProviders) -> None:
    owner, stranger = Client(), Client()
    callback = loopback_authorize(owner.get("/auth/discord/login"))
    stranger.get("/auth/discord/login")  # a binding cookie of its own
    refused = stranger.get(callback)
    assert refused.status_code == 400 and b"oauth_state_invalid" in refused.content
    assert AuthSession.objects.count() == 0
    # The browser that started the flow still finishes it.
    done = owner.get(callback)
    assert done.status_code == 200 and SESSION_COOKIE in done.cookies
    assert AuthSession.objects.count() == 1


def test_auth_endpoints_answer_405_as_json(db: Any) -> None:
    c = Client()
    for method, path in (("get", "/auth/refresh"), ("put", "/auth/validate"), ("post", "/auth/sessions"),
                         ("post", "/auth/discord/login"), ("get", "/auth/logout")):
        resp = getattr(c, method)(path)
        assert resp.status_code == 405, (method, path)
        assert resp["Content-Type"] == "application/json", (method, path)
        assert resp.json()["error"] == "method_not_allowed" and resp.json()["detail"]
        assert resp["Allow"] in {"POST", "GET"}
