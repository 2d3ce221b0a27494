"""Closed sets of reasons and causes, named once.

``RevokeReason`` (why a session row was ended) lives with the model, since it
is a column's choices. The rest are reasons the wire and the security log carry.
"""
from __future__ import annotations

from enum import StrEnum

from sessions_core.models import RevokeReason

__all__ = ["DenyReason", "EvictCause", "ReuseCause", "RevokeReason"]


class DenyReason(StrEnum):
    """Why a credential of a session was refused without a revoked row to point to."""

    # The session id is not one SQL knows.
    UNKNOWN = "unknown"
    # The access token's jti was blacklisted (its session was revoked).
    BLACKLISTED = "blacklisted"
    # The user's token version moved past the token's.
    TOKEN_VERSION = "token_version"
    # Revoked, with no recorded reason.
    REVOKED = "revoked"


class ReuseCause(StrEnum):
    """Why a refresh token came back after its successor was issued (security log, events, metrics)."""

    # A sibling tab's replay inside the grace window: answered idempotently, not theft.
    CONCURRENT_REFRESH = "concurrent_refresh"
    # The predecessor after the window, while nothing of its successor was ever used:
    # the answer carrying the successor was lost; the identical successor is handed out.
    LOST_ANSWER_RECOVERED = "lost_answer_recovered"
    # Recorded (as reuse, session revoked) before lost answers were recovered; kept
    # so older events still read as a known cause.
    CLIENT_LOST_ANSWER = "client_lost_answer"
    # The predecessor after the window, once the session was used after the rotation.
    REPLAY_OUTSIDE_WINDOW = "replay_outside_window"
    # An older ancestor (two or more generations back).
    ANCESTOR_REPLAY = "ancestor_replay"


class EvictCause(StrEnum):
    """Why a session was evicted (the event's cause)."""

    # A new sign-in went past MAX_SESSIONS_PER_USER: the least recently active one goes.
    MAX_SESSIONS = "max_sessions"
