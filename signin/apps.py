from django.apps import AppConfig


class SigninConfig(AppConfig):
    """Identity providers, the OAuth flow, PlayFab ticket renewal and the dev fakes."""

    name = "signin"
    verbose_name = "Sign-in"

    def ready(self) -> None:
        from sessions_core.signals import session_rotated

        from signin.playfab_renewal import on_session_rotated

        session_rotated.connect(on_session_rotated, dispatch_uid="signin.playfab_renewal")
