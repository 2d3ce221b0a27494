"""Helpers for core tests: a signed-in test client, database snapshots."""
from __future__ import annotations

from typing import Any

from django.test import Client

from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from sessions_core.models import AuthSession, SessionEvent, User
from sessions_core.services import IssuedTokens, session_create


def sign_in(user: User, *, ua: str = "pytest", csrf: bool = True) -> tuple[Client, IssuedTokens]:
    """A client holding a fresh session's cookies (and a CSRF token when ``csrf``)."""
    issued = session_create(user=user, ip="127.0.0.1", user_agent=ua)
    client = Client(enforce_csrf_checks=csrf)
    if csrf:
        client.get("/")
    client.cookies[SESSION_COOKIE] = issued.session_token
    client.cookies[REFRESH_COOKIE] = issued.refresh_token
    return client, issued


def post(client: Client, path: str, **extra: Any) -> Any:
    token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    return client.post(path, HTTP_X_CSRFTOKEN=token, **extra)


def delete(client: Client, path: str) -> Any:
    token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    return client.delete(path, HTTP_X_CSRFTOKEN=token)


def db_snapshot() -> list[tuple[Any, ...]]:
    """Everything a refused request must leave untouched."""
    rows = list(
        AuthSession.objects.order_by("id").values_list(
            "id", "state", "revoke_reason", "refresh_hash", "refresh_prev_hash", "refresh_generation", "expires_at"
        )
    )
    return rows + [("events", SessionEvent.objects.count()), ("users", User.objects.count())]
