from django.urls import path

from realtime import views

urlpatterns = [
    path("hub/negotiate", views.negotiate, name="hub-negotiate"),
]
