from django.urls import path

from sessions_core.views import api

urlpatterns = [
    path("auth/validate", api.validate, name="auth-validate"),
    path("auth/refresh", api.refresh, name="auth-refresh"),
    path("auth/token", api.token, name="auth-token"),
    path("auth/activity", api.activity, name="auth-activity"),
    path("auth/logout", api.logout, name="auth-logout"),
    path("auth/logout-all", api.logout_all, name="auth-logout-all"),
    path("auth/sessions", api.sessions, name="auth-sessions"),
    path("auth/sessions/<str:session_id>", api.session_detail, name="auth-session-detail"),
    path(".well-known/jwks.json", api.jwks, name="jwks"),
    path("healthz", api.healthz, name="healthz"),
    path("readyz", api.readyz, name="readyz"),
]
