from django.apps import AppConfig


class SessionsCoreConfig(AppConfig):
    name = "sessions_core"
    verbose_name = "Sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers system checks)
        from . import metrics  # noqa: F401  (connects metric receivers)
