"""State changes of the session lifecycle, named ``<entity>_<action>``, keyword-only."""
from .issue import IssuedTokens, access_token_mint
from .refresh import RefreshOutcome, session_refresh
from .sessions import (
    session_create,
    session_flush_activity,
    session_rehydrate,
    session_revoke,
    session_revoke_all,
    user_bump_token_version,
)

__all__ = [
    "IssuedTokens",
    "RefreshOutcome",
    "access_token_mint",
    "session_create",
    "session_flush_activity",
    "session_refresh",
    "session_rehydrate",
    "session_revoke",
    "session_revoke_all",
    "user_bump_token_version",
]
