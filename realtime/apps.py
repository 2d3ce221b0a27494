from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime hub"

    def ready(self) -> None:
        from sessions_core.signals import security_event, session_revoked

        from realtime.groups import close_revoked_session, sessions_changed_on_create, sessions_changed_on_revoke

        session_revoked.connect(close_revoked_session, dispatch_uid="realtime.close_revoked_session")
        # Pages listing the user's sessions update live (hub event `sessionsChanged`).
        session_revoked.connect(sessions_changed_on_revoke, dispatch_uid="realtime.sessions_changed_on_revoke")
        security_event.connect(sessions_changed_on_create, dispatch_uid="realtime.sessions_changed_on_create")
