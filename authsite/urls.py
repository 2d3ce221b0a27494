from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("sessions_core.urls")),
    path("", include("ops.urls")),
    path("", include("realtime.urls")),
    path("", include("signin.urls")),
]
