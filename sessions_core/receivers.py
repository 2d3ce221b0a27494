"""Signal receivers of the session core (connected in ``SessionsCoreConfig.ready``)."""
from __future__ import annotations

from typing import Any

from sessions_core.models import AuthSession, SessionState, User


def user_saved(sender: Any, instance: User, update_fields: Any = None, **kwargs: Any) -> None:
    """A user saved inactive by any path (a shell, a script, a form) is kept out at once.

    The admin calls ``user_deactivate`` itself; this catches every other ``save()``
    of an inactive user who still has active sessions. (A queryset ``update()``
    sends no signal: deactivate through ``services.user_deactivate``.)
    """
    if instance.is_active or instance.pk is None:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    if AuthSession.objects.filter(user_id=instance.pk, state=SessionState.ACTIVE).exists():
        from sessions_core.services.sessions import user_deactivate

        user_deactivate(user=instance, note="account deactivated (saved inactive)")
