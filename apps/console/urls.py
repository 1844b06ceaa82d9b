"""The console's pages (not under /api/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="console-home"),
]
