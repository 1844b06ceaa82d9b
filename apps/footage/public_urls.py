"""Routes of apps.footage outside /api/ (mounted at the site root): the disk backend's signed byte URLs."""

from django.urls import path

from . import views

urlpatterns = [
    path("upload/<str:token>", views.upload_part, name="footage-upload-part"),
]
