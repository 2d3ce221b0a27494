"""The three credentials and what signs them.

Each has its own format, salt and audience so none is accepted in another's
place (RFC 8725 §3.11-3.12): :mod:`.session` (the HTTP session token),
:mod:`.access` (the hub's JWT), :mod:`.refresh` (the rotating refresh token).
:mod:`.signing_keys` holds the rotating keys and the JWKS; :mod:`.crypto` the
HMACs and at-rest encryption. This package does no I/O but loading keys.
"""
from sessions_core.tokens.access import ACCESS_ALGORITHMS, ACCESS_TOKEN_TYP, REQUIRED_CLAIMS, AccessClaims, deterministic_jti, make_access_token, peek_access_kid, read_access_token
from sessions_core.tokens.refresh import REFRESH_PREFIX, RefreshParts, epoch, new_refresh, new_refresh_seed, next_refresh, open_refresh_seed, parse_refresh_token, refresh_hash, refresh_matches, seal_refresh_seed
from sessions_core.tokens.session import SESSION_TOKEN_SALT, SessionClaims, make_session_token, peek_session_kid, read_session_token

__all__ = [
    "ACCESS_ALGORITHMS", "ACCESS_TOKEN_TYP", "REFRESH_PREFIX", "REQUIRED_CLAIMS", "SESSION_TOKEN_SALT",
    "AccessClaims", "RefreshParts", "SessionClaims", "deterministic_jti", "epoch", "make_access_token",
    "make_session_token", "new_refresh", "new_refresh_seed", "next_refresh", "open_refresh_seed", "parse_refresh_token", "peek_access_kid",
    "peek_session_kid", "read_access_token", "read_session_token", "refresh_hash", "refresh_matches", "seal_refresh_seed",
]
