"""Channel-layer group names and the fan-out of session revocations.

Every hub connection joins its session's group, its user's group and the
presence group (plus the groups its session joined, see :mod:`realtime.presence`).
Groups live in channels-redis, so a ``group_send`` from any process reaches the
sockets every worker holds. Names carry the Redis key prefix so deployments (and
tests) sharing one Redis do not hear each other.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from sessions_core import security_log
from sessions_core.conf import auth_settings
from sessions_core.store.breaker import breaker
from sessions_core.store.client import REDIS_ERRORS

from realtime import fanout

log = logging.getLogger(__name__)

# Application group names a client may join (Channels allows [A-Za-z0-9._-], < 100 chars).
APP_GROUP_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _p() -> str:
    return str(auth_settings.REDIS_KEY_PREFIX)


def session_group(sid: str) -> str:
    return f"{_p()}.sess.{sid}"


def user_group(uid: int) -> str:
    return f"{_p()}.user.{uid}"


def presence_group() -> str:
    return f"{_p()}.presence"


def app_group(name: str) -> str:
    """The channel-layer group of application group ``name`` (validated by the caller)."""
    return f"{_p()}.app.{name}"


def notify_event(payload: Any) -> dict[str, Any]:
    return {"type": "hub.notify", "payload": payload}


async def anotify_user(uid: int, payload: Any) -> None:
    """Send ``notify(payload)`` to every open connection of user ``uid``, on every worker."""
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(user_group(uid), notify_event(payload))


async def anotify_group(name: str, payload: Any) -> None:
    """Send ``notify(payload)`` to every connection whose session joined group ``name``."""
    if not APP_GROUP_RE.match(name):
        raise ValueError(f"invalid hub group name {name!r}")
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(app_group(name), notify_event(payload))


def close_revoked_session(sender: Any, *, uid: int, sid: str, reason: str, **kwargs: Any) -> None:
    """``session_revoked`` receiver: tell the session's sockets, wherever they are, to close.

    Runs in the revoking (sync) code path after the store already refuses the
    session. The message goes through :mod:`realtime.fanout` (a Redis Stream
    every worker reads), not the channel layer, which can lose it. If Redis
    cannot be reached the revoke still stands; each connection's periodic check
    (every ``HUB_PING_INTERVAL``) closes it then. While the store is degraded
    nothing is tried: its recovery sends ``session_revoked`` again (``replayed``).
    """
    if not breaker.available():
        return
    try:
        fanout.publish_revocation(uid=uid, sid=sid, reason=str(reason))
    except REDIS_ERRORS:
        log.warning("hub revoke fan-out failed for session %s; periodic checks will close it", sid, exc_info=True)
        security_log.event("hub.fanout_failed", user_id=uid, session_id=sid, reason=reason)


def _send_sessions_changed(uid: int) -> None:
    layer = get_channel_layer()
    if layer is None or not breaker.available():
        return  # degraded: pages re-read their list when their connection comes back
    try:
        async_to_sync(layer.group_send)(user_group(uid), {"type": "hub.sessions"})
    except REDIS_ERRORS as e:
        # Only a display refresh: the list is right again on the next page load.
        log.warning("hub: could not push sessionsChanged to user %s (%s)", uid, e)


def sessions_changed_on_revoke(sender: Any, *, uid: int, **kwargs: Any) -> None:
    """``session_revoked`` receiver: the user's pages refresh their list of sessions."""
    _send_sessions_changed(uid)


def sessions_changed_on_create(sender: Any, *, name: str, fields: dict[str, Any], **kwargs: Any) -> None:
    """``security_event`` receiver: a new session (sign-in) refreshes the user's lists too."""
    if name == "session.created" and isinstance(fields.get("user_id"), int):
        _send_sessions_changed(fields["user_id"])
