"""Security review findings on the hub edge: negotiate is rate-limited and stores
nothing when it refuses; a deactivated user is refused at negotiate and handshake."""
from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from sessions_core.models import User
from sessions_core.services import session_create
from sessions_core.store import keys
from sessions_core.store.client import get_redis
from tests.realtime.helpers import Hub

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def negotiate(token: str | None, **extra: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await AsyncClient(**extra).post("/hub/negotiate?negotiateVersion=1", headers=headers)


def negotiation_keys() -> list[Any]:
    return list(get_redis().scan_iter(keys.negotiation("*", "*")))


async def test_negotiate_is_rate_limited_per_session(issued: Any, settings: Any) -> None:
    settings.AUTHSITE = {**settings.AUTHSITE, "RATE_NEGOTIATE": "5/m"}
    codes = [(await negotiate(issued.access_token, REMOTE_ADDR=f"192.0.2.{n}")).status_code for n in range(7)]
    assert codes == [200] * 5 + [429] * 2
    limited = await negotiate(issued.access_token, REMOTE_ADDR="192.0.2.99")
    assert limited.json()["error"] == "rate_limited" and int(limited["Retry-After"]) >= 1
    assert len(await sync_to_async(negotiation_keys)()) == 5  # the refused calls stored nothing


async def test_negotiate_is_rate_limited_per_ip_before_the_token_is_checked(settings: Any) -> None:
    settings.AUTHSITE = {**settings.AUTHSITE, "RATE_NEGOTIATE": "5/m"}
    codes = [(await negotiate("x.y.z")).status_code for _ in range(7)]
    assert codes == [401] * 5 + [429] * 2
    assert await sync_to_async(negotiation_keys)() == []


async def test_a_deactivated_user_is_refused_at_negotiate_and_handshake(user: User) -> None:
    issued = await sync_to_async(session_create)(user=user, ip=None, user_agent="t")
    assert (await negotiate(issued.access_token)).status_code == 200

    def deactivate() -> None:
        user.is_active = False
        user.save()

    await sync_to_async(deactivate)()
    refused = await negotiate(issued.access_token)
    assert refused.status_code == 401 and refused.json()["error"] == "session_revoked"
    assert (await Hub(f"/hub?access_token={issued.access_token}").connect())[0] is False
    # A fresh sign-in is refused too (the account, not only its sessions).
    from sessions_core.errors import AccountDisabled

    with pytest.raises(AccountDisabled):
        await sync_to_async(session_create)(user=user, ip=None, user_agent="t")
