"""Routes of apps.footage outside /api/ (mounted at the site root): the disk backend's signed byte URLs."""

from django.urls import path

from . import records_apis, views

urlpatterns = [
    path("upload/<str:token>", views.upload_part, name="footage-upload-part"),
    path("download/<str:token>", records_apis.clip_bytes, name="footage-download"),  # records side
]
