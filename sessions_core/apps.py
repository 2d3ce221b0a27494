from django.apps import AppConfig
from django.db.models.signals import post_save


class SessionsCoreConfig(AppConfig):
    name = "sessions_core"
    verbose_name = "Sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sessions_core.models import User
        from sessions_core.receivers import user_saved

        post_save.connect(user_saved, sender=User, dispatch_uid="sessions_core.user_saved")
