"""POST /hub/negotiate and the negotiated ``?id=`` on the WebSocket."""
from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from sessions_core.models import AuthSession, RevokeReason
from sessions_core.services import session_create, session_revoke
from tests.realtime.helpers import Hub, security_events

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def negotiate(token: str | None, version: str = "1") -> Any:
    # The official client posts with no CSRF token; the endpoint must not need one.
    client = AsyncClient(enforce_csrf_checks=True)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.post(f"/hub/negotiate?negotiateVersion={version}", headers=headers)


async def test_negotiate_offers_websockets_and_a_single_use_id(issued: Any) -> None:
    resp = await negotiate(issued.access_token)
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["negotiateVersion"] == 1
    assert body["availableTransports"] == [{"transport": "WebSockets", "transferFormats": ["Text"]}]
    assert body["connectionId"] != body["connectionToken"]
    assert resp["Cache-Control"] == "no-store"
    path = f"/hub?id={body['connectionToken']}&access_token={issued.access_token}"
    hub = Hub(path)
    assert (await hub.connect())[0] is True
    assert hub.comm.scope["path"] == "/hub"
    await hub.disconnect()
    with security_events() as events:
        assert (await Hub(path).connect())[0] is False  # used once
    assert [e.fields["reason"] for e in events if e.msg == "hub.refused"] == ["connection_unknown"]


async def test_negotiate_version_zero_uses_the_connection_id(issued: Any) -> None:
    body = (await negotiate(issued.access_token, version="0")).json()
    assert body["negotiateVersion"] == 0 and "connectionToken" not in body
    hub = Hub(f"/hub?id={body['connectionId']}&access_token={issued.access_token}")
    assert (await hub.connect())[0] is True
    await hub.disconnect()


async def test_negotiated_id_is_bound_to_its_session(issued: Any, user: Any) -> None:
    other = await sync_to_async(session_create)(user=user, ip=None, user_agent="other")
    token = (await negotiate(issued.access_token)).json()["connectionToken"]
    assert (await Hub(f"/hub?id={token}&access_token={other.access_token}").connect())[0] is False
    assert (await Hub(f"/hub?id=made-up&access_token={issued.access_token}").connect())[0] is False


@pytest.mark.parametrize("token,code", [(None, "not_authenticated"), ("x.y.z", "token_invalid")])
async def test_negotiate_refuses_bad_bearer(token: str | None, code: str) -> None:
    resp = await negotiate(token)
    assert resp.status_code == 401
    assert resp.json()["error"] == code
    assert resp["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


async def test_negotiate_refuses_revoked_session(issued: Any) -> None:
    row = await AuthSession.objects.aget(pk=issued.session_id)
    await sync_to_async(session_revoke)(session=row, reason=RevokeReason.LOGOUT)
    resp = await negotiate(issued.access_token)
    assert resp.status_code == 401 and resp.json()["error"] == "session_revoked"


async def test_negotiate_is_post_only(issued: Any) -> None:
    resp = await AsyncClient().get("/hub/negotiate", headers={"Authorization": f"Bearer {issued.access_token}"})
    assert resp.status_code == 405
