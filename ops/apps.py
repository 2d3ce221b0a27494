from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: admin, system checks, metrics and management commands."""

    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from ops import checks  # noqa: F401  (registers system checks)
        from ops import metrics  # noqa: F401  (connects metric receivers and timing observers)
