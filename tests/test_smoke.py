import pytest
from django.test import Client

from sessions_core.conf import REFRESH_COOKIE, SESSION_COOKIE
from sessions_core.services import session_create


@pytest.mark.django_db(transaction=True)
def test_create_validate_refresh(user):
    issued = session_create(user=user, ip="127.0.0.1", user_agent="pytest")
    c = Client(enforce_csrf_checks=False)
    c.cookies[SESSION_COOKIE] = issued.session_token
    c.cookies[REFRESH_COOKIE] = issued.refresh_token
    r = c.post("/auth/validate")
    assert r.status_code == 200, r.content
    assert r.json()["user"]["username"] == "alice"
    r2 = c.post("/auth/refresh")
    assert r2.status_code == 200, r2.content
    assert r2.json()["access_token"]
