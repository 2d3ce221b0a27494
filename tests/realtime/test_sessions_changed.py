"""The session list updates live: a sign-in or a revocation of the user's sessions
reaches their open hub connections as `sessionsChanged` (and nobody else's)."""
from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from sessions_core.models import AuthSession, RevokeReason
from sessions_core.services import session_create, session_revoke
from tests.realtime.helpers import open_hub

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def test_sign_in_and_revoke_push_sessions_changed_to_the_users_connections(issued: Any, user: Any, bob: Any) -> None:
    mine = await open_hub(issued.access_token)
    bobs = await open_hub((await sync_to_async(session_create)(user=bob, ip=None, user_agent="x")).access_token)
    other = await sync_to_async(session_create)(user=user, ip="127.0.0.1", user_agent="phone")
    assert (await mine.call("sessionsChanged"))["target"] == "sessionsChanged"
    row = await sync_to_async(AuthSession.objects.get)(pk=other.session_id)
    await sync_to_async(session_revoke)(session=row, reason=RevokeReason.ENDED_BY_USER)
    assert (await mine.call("sessionsChanged"))["target"] == "sessionsChanged"
    with pytest.raises(TimeoutError):  # Bob's list did not change
        await bobs.next(lambda m: m.get("target") == "sessionsChanged", timeout=1)
