"""Every state change of the session lifecycle goes through here (house rule).

Services are named ``<entity>_<action>``, keyword-only and typed; views, admin
actions, management commands and hub methods all call these, never the store
or the models' writers directly.

One write order, for every service that changes SQL and Redis: inside one
database transaction, SQL decides first (a conditional UPDATE or a row lock
arbitrates), Redis is written next, and the transaction commits last. A Redis
failure raises ``StoreUnavailable`` inside the transaction, so SQL rolls back and
nothing is half made; a revoke never stands in SQL while Redis still serves the
session. Signals (``session_revoked``, ``session_rotated``) and security events
are sent after the commit.
"""
from sessions_core.services.issue import IssuedTokens, access_token_mint
from sessions_core.services.refresh import RefreshOutcome, session_refresh
from sessions_core.services.sessions import (
    session_create,
    session_flush_activity,
    session_revoke,
    session_revoke_all,
    user_bump_token_version,
    user_deactivate,
)

__all__ = [
    "IssuedTokens",
    "RefreshOutcome",
    "access_token_mint",
    "session_create",
    "session_flush_activity",
    "session_refresh",
    "session_revoke",
    "session_revoke_all",
    "user_bump_token_version",
    "user_deactivate",
]
