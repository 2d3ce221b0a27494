"""PlayFab ticket renewal on refresh; PlayFab trouble never signs anyone out."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from sessions_core.models import AuthSession, SessionState, User
from signin.providers import playfab
from signin.providers.playfab import open_ticket, seal_ticket
from sessions_core.services import session_create
from signin.playfab_renewal import playfab_call_with_ticket, playfab_renew_if_due
from tests.support.fake_providers_server import FakeProviders, Reply, playfab_error

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def linked(db: Any) -> User:
    return User.objects.create(username="discord-80351110224678912", discord_id="80351110224678912", discord_username="nelly")


def _client_for(user: User, *, ticket: str = "old-ticket", expires_in: timedelta) -> tuple[Client, AuthSession]:
    issued = session_create(
        user=user, ip="127.0.0.1", user_agent="pytest",
        playfab_ticket_enc=seal_ticket(ticket=ticket, origin=""),
        playfab_ticket_expires_at=timezone.now() + expires_in,
    )
    c = Client()
    c.cookies[SESSION_COOKIE] = issued.session_token
    c.cookies[REFRESH_COOKIE] = issued.refresh_token
    return c, AuthSession.objects.get(pk=issued.session_id)


def _ticket(row: AuthSession) -> str:
    row.refresh_from_db()
    sealed = open_ticket(row.playfab_ticket_enc)
    assert sealed is not None
    return sealed.ticket


def test_refresh_renews_a_ticket_that_is_due(loopback: FakeProviders, linked: User) -> None:
    c, row = _client_for(linked, expires_in=timedelta(minutes=30))
    resp = c.post("/auth/refresh")
    assert resp.status_code == 200, resp.content
    assert len(loopback.calls["playfab_login"]) == 1
    assert loopback.calls["playfab_login"][0].json["ServerCustomId"] == linked.discord_id
    new = _ticket(row)
    assert new != "old-ticket" and new in loopback.tickets
    assert row.playfab_ticket_expires_at - timezone.now() > timedelta(hours=23)
    assert new not in resp.content.decode()  # never sent to the browser
    linked.refresh_from_db()
    assert linked.playfab_id == loopback.tickets[new]


def test_refresh_leaves_a_fresh_ticket_alone(loopback: FakeProviders, linked: User) -> None:
    c, row = _client_for(linked, expires_in=timedelta(hours=5))
    assert c.post("/auth/refresh").status_code == 200
    assert not loopback.calls["playfab_login"] and _ticket(row) == "old-ticket"


@pytest.mark.parametrize(
    "outage",
    [
        (playfab_error(503, "ServiceUnavailable", 1123),) * 3,
        (Reply(200, {}, delay=1.5),) * 3,
        (playfab_error(429, "APIClientRequestRateLimitExceeded", 1199, retryAfterSeconds=60),),
        (Reply(200, b"garbage"),),
    ],
    ids=["5xx", "slow", "throttled", "malformed"],
)
def test_playfab_down_at_refresh_keeps_the_session_and_retries_later(
    loopback: FakeProviders, linked: User, caplog: pytest.LogCaptureFixture, outage: tuple[Reply, ...]
) -> None:
    c, row = _client_for(linked, expires_in=timedelta(minutes=10))
    loopback.queue("playfab_login", *outage)
    with caplog.at_level(logging.INFO, logger="authsite.security"):
        first = c.post("/auth/refresh")
    assert first.status_code == 200, first.content
    assert first.cookies[SESSION_COOKIE].value and first.cookies[REFRESH_COOKIE].value
    row.refresh_from_db()
    assert row.state == SessionState.ACTIVE and _ticket(row) == "old-ticket"
    assert any(r.getMessage() == "playfab.renew_failed" for r in caplog.records)
    assert c.post("/auth/validate").status_code == 200  # still signed in
    # PlayFab is back: the next refresh renews.
    second = c.post("/auth/refresh")
    assert second.status_code == 200
    assert _ticket(row) in loopback.tickets


def test_renewal_never_raises_for_provider_trouble(loopback: FakeProviders, linked: User, settings: Any) -> None:
    _, row = _client_for(linked, expires_in=timedelta(minutes=-5))
    settings.AUTHSITE = {**settings.AUTHSITE, "PLAYFAB_TITLE_ID": ""}  # even misconfigured
    assert playfab_renew_if_due(session=row) is False
    row.refresh_from_db()
    assert _ticket(row) == "old-ticket"


def test_unreadable_ticket_is_renewed(loopback: FakeProviders, linked: User) -> None:
    c, row = _client_for(linked, expires_in=timedelta(hours=5))
    AuthSession.objects.filter(pk=row.pk).update(playfab_ticket_enc="not-a-fernet-token")
    assert c.post("/auth/refresh").status_code == 200
    assert _ticket(row) in loopback.tickets


def _check(cfg: Any, ticket: str, budget: Any) -> str:
    return playfab.authenticate_session_ticket(cfg, ticket=ticket, budget=budget)


def test_ticket_errors_log_in_again_once(loopback: FakeProviders, linked: User) -> None:
    _, row = _client_for(linked, expires_in=timedelta(hours=5))
    # PlayFab does not know "old-ticket": InvalidSessionTicket (1100) -> log in again once, call again.
    pid = playfab_call_with_ticket(session=row, call=_check)
    assert len(loopback.calls["playfab_login"]) == 1 and len(loopback.calls["playfab_auth"]) == 2
    assert pid == loopback.tickets[_ticket(row)]
    loopback.queue("playfab_auth", playfab_error(400, "InvalidParams", 1000))
    with pytest.raises(playfab.PlayFabRefused) as err:
        playfab_call_with_ticket(session=row, call=_check)
    assert err.value.error_code == 1000
    assert len(loopback.calls["playfab_login"]) == 1  # not a ticket error: no new login
    loopback.expire_tickets()
    loopback.queue("playfab_auth", playfab_error(401, "NotAuthenticated", 1074), playfab_error(400, "EntityTokenExpired", 1336))
    with pytest.raises(playfab.PlayFabRefused) as err:
        playfab_call_with_ticket(session=row, call=_check)
    assert err.value.error_code == 1336  # logged in again once, then gave up
    assert len(loopback.calls["playfab_login"]) == 2
