"""The Redis session store: the only code that knows Redis key names, field
encodings and scripts (house rule: "only store/ knows field names").

:mod:`.sessions` is the typed facade the services and the hub use, and it owns
a miss; beside it, :mod:`.records` (what is kept), :mod:`.keys` (every key name),
:mod:`.lua` (the scripts), :mod:`.client` (connections), :mod:`.autopipeline`
(shared round trips) and :mod:`.urls` (the ``REDIS_URL`` forms).
"""
# Resolved on first use (PEP 562), so that settings can import ``store.urls``
# before Django's apps (and the models the facade needs) are ready.
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sessions_core.store.sessions import (
        RotationState,
        SessionRecord,
        Validated,
        acheck_access,
        aping,
        apply_rotation,
        avalidate,
        blacklist_jti,
        held,
        iter_activity,
        last_active,
        load,
        now_ms,
        ping,
        put,
        record_for,
        record_jti,
        redis_guard,
        rehydrate,
        revoke,
        rotation_state,
        set_user_token_version,
    )

__all__ = ["RotationState", "SessionRecord", "Validated", "acheck_access", "aping", "apply_rotation", "avalidate", "blacklist_jti", "held", "iter_activity", "last_active", "load", "now_ms", "ping", "put", "record_for", "record_jti", "redis_guard", "rehydrate", "revoke", "rotation_state", "set_user_token_version"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sessions_core.store import sessions

        return getattr(sessions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
