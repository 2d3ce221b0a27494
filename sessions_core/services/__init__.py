"""Every state change of the session lifecycle goes through here (house rule).

Services are named ``<entity>_<action>``, keyword-only and typed; views, admin
actions, management commands and hub methods all call these, never the store
or the models' writers directly.

One write order, for every service that changes SQL and Redis: inside one
database transaction, SQL decides first (a conditional UPDATE or a row lock
arbitrates), Redis is written next, and the transaction commits last. Redis
unreachable is the store's business (degraded mode, ``store/breaker.py``): the
Redis write is then left to the store's recovery, which mirrors it from SQL
before that worker reads Redis again, and the SQL change commits; while
degraded, sessions are checked against SQL, so a revoke that stands in SQL is
not served from Redis by that worker. Signals (``session_revoked``, ``session_rotated``) and security events
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
