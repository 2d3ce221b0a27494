"""Every Redis key name of authsite is built here and nowhere else.

All keys of one user share the hash tag ``{u<uid>}`` so that multi-key scripts
(validate, rotate, revoke, evict) run on one Redis Cluster slot.
"""
from __future__ import annotations

from sessions_core.conf import auth_settings


def _tag(uid: int | str) -> str:
    return f"{auth_settings.REDIS_KEY_PREFIX}:{{u{uid}}}"


def session(uid: int | str, sid: str) -> str:
    """Hash: the hot copy of one session (state, expiry, refresh state, user fields)."""
    return f"{_tag(uid)}:s:{sid}"


def user(uid: int | str) -> str:
    """Hash: per-user state every request checks (token version)."""
    return f"{_tag(uid)}:u"


def user_sessions(uid: int | str) -> str:
    """Sorted set: the user's live session ids scored by last activity (ms)."""
    return f"{_tag(uid)}:ss"


def session_jtis(uid: int | str, sid: str) -> str:
    """Sorted set: access-token jtis minted for a session, scored by their expiry (s)."""
    return f"{_tag(uid)}:j:{sid}"


def blacklist(uid: int | str, jti: str) -> str:
    """String: present while a revoked access token's jti would otherwise still verify."""
    return f"{_tag(uid)}:bl:{jti}"


def connections(uid: int | str) -> str:
    """Hash: the user's open hub connections (connection id -> session id)."""
    return f"{_tag(uid)}:c"


def connection_leases(uid: int | str) -> str:
    """Sorted set: the user's presence leases (connection ids, and ``hb`` for Heartbeat) scored by deadline (ms)."""
    return f"{_tag(uid)}:cl"


def session_groups(uid: int | str, sid: str) -> str:
    """Set: hub groups a session has joined (rejoined on reconnect)."""
    return f"{_tag(uid)}:g:{sid}"


def negotiation(uid: int | str, token_digest: str) -> str:
    """String: a negotiated hub connection token's session and connection id, until its WebSocket arrives."""
    return f"{_tag(uid)}:n:{token_digest}"


def oauth_state(state_digest: str) -> str:
    """String (JSON, TTL ``OAUTH_STATE_TTL``): one pending Discord sign-in, taken once with GETDEL.

    Keyed by a digest of ``state``; there is no user yet, so no hash tag (single-key commands only).
    """
    return f"{auth_settings.REDIS_KEY_PREFIX}:oauth:{state_digest}"


def dev_provider(kind: str, digest: str) -> str:
    """String (TTL): a record of the built-in fake Discord/PlayFab (``kind``: code, token, pf)."""
    return f"{auth_settings.REDIS_KEY_PREFIX}:dev:{kind}:{digest}"


def presence() -> str:
    """Sorted set: online user ids scored by the time they stay online until (ms)."""
    return f"{auth_settings.REDIS_KEY_PREFIX}:{{presence}}"


def hub_revocations() -> str:
    """Stream: revoked sessions, read by every hub worker (realtime/fanout.py)."""
    return f"{auth_settings.REDIS_KEY_PREFIX}:{{hubfanout}}:revocations"


def hub_revocations_seq() -> str:
    """Counter: sequence number of the last :func:`hub_revocations` entry (same slot)."""
    return f"{auth_settings.REDIS_KEY_PREFIX}:{{hubfanout}}:seq"


def presence_names() -> str:
    """Hash: display names of the users in :func:`presence` (same hash tag, one Cluster slot)."""
    return f"{auth_settings.REDIS_KEY_PREFIX}:{{presence}}:n"


def _glob_escape(text: str) -> str:
    """Escape Redis glob metacharacters (``* ? [ ] \\``) so a prefix matches literally."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def session_pattern() -> str:
    """SCAN MATCH pattern for every session hash of this deployment (any user)."""
    return f"{_glob_escape(auth_settings.REDIS_KEY_PREFIX)}:{{u*}}:s:*"


def session_key_ids(key: str | bytes) -> tuple[int, str] | None:
    """(uid, sid) of a :func:`session` key (as SCAN returns it), or ``None`` if it is not one."""
    text = key.decode() if isinstance(key, bytes) else key
    head, sep, sid = text.rpartition("}:s:")
    tag = head.rpartition(":{u")[2]
    if not sep or not tag.isdigit() or not sid:
        return None
    return int(tag), sid
