"""Building token sets from a session row, and minting access tokens."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from sessions_core.conf import auth_settings
from sessions_core.tokens.signing_keys import get_keyring
from sessions_core.models import AuthSession, User
from sessions_core.store import record_jti
from sessions_core.tokens import RefreshParts, deterministic_jti, epoch, make_access_token, make_session_token


@dataclass(frozen=True)
class IssuedTokens:
    """Everything a sign-in or refresh answer hands out."""

    session_id: str
    user_id: int
    session_token: str
    session_token_exp: int
    refresh_token: str
    refresh_exp: int
    access_token: str
    access_exp: int
    session_expires_at: datetime
    absolute_expires_at: datetime
    user: dict[str, object]


def tokens_for(row: AuthSession, user: User, refresh: RefreshParts) -> IssuedTokens:
    """The token set of the session's current refresh generation.

    Deterministic in (row state, refresh token): every caller answered for the
    same generation (the winner and each grace-window loser) gets identical tokens.
    """
    ring = get_keyring()
    sid = row.id.hex
    issued_at = epoch(row.refresh_rotated_at or row.created_at)
    session_exp = min(issued_at + int(auth_settings.SESSION_TOKEN_TTL.total_seconds()), epoch(row.expires_at))
    access, claims = make_access_token(
        ring, uid=user.pk, sid=sid, tv=user.token_version, name=user.display_name(), iat=issued_at,
        jti=deterministic_jti(sid, refresh.generation), generation=refresh.generation,
    )
    record_jti(uid=user.pk, sid=sid, jti=claims.jti, exp=claims.exp)
    return IssuedTokens(
        session_id=sid,
        user_id=user.pk,
        session_token=make_session_token(ring, sid=sid, uid=user.pk, exp=session_exp, generation=refresh.generation),
        session_token_exp=session_exp,
        refresh_token=refresh.encode(),
        refresh_exp=epoch(row.absolute_expires_at),
        access_token=access,
        access_exp=claims.exp,
        session_expires_at=row.expires_at,
        absolute_expires_at=row.absolute_expires_at,
        user=user_info(user.pk, user.username, user.display_name(), user.avatar_url, user.playfab_id),
    )


def user_info(uid: int, username: str, display_name: str, avatar_url: str, playfab_id: str) -> dict[str, object]:
    """The user fields a page may see (never a token or ticket)."""
    return {
        "id": uid, "username": username, "display_name": display_name,
        "avatar_url": avatar_url, "playfab_id": playfab_id,
    }


def access_token_mint(
    *, uid: int, sid: str, token_version: int, name: str, generation: int | None
) -> tuple[str, int]:
    """A fresh access token for a validated session; returns (token, exp).

    ``generation`` is the refresh generation of the credential that asked for it
    (the session token's); the new token carries it on.
    """
    ring = get_keyring()
    token, claims = make_access_token(
        ring, uid=uid, sid=sid, tv=token_version, name=name, iat=int(time.time()), generation=generation
    )
    record_jti(uid=uid, sid=sid, jti=claims.jti, exp=claims.exp)
    return token, claims.exp
