from django.urls import path

from . import views

urlpatterns = [
    path("hub/negotiate", views.negotiate, name="hub-negotiate"),
]
