from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime hub"

    def ready(self) -> None:
        from sessions_core.signals import session_revoked

        from realtime.groups import close_revoked_session

        session_revoked.connect(close_revoked_session, dispatch_uid="realtime.close_revoked_session")
