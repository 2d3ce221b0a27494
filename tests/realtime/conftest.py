from __future__ import annotations

from typing import Any

import pytest

from sessions_core.services import IssuedTokens, session_create


@pytest.fixture
def issued(user: Any) -> IssuedTokens:
    """A live session of ``user`` (tokens as sign-in hands them out)."""
    return session_create(user=user, ip="127.0.0.1", user_agent="pytest")


@pytest.fixture
def bob(db: Any) -> Any:
    from sessions_core.models import User

    return User.objects.create(username="bob", discord_id="1002", discord_username="Bob")
