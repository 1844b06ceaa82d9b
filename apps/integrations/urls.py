"""Routes of apps.integrations outside /api/ (mounted at the site root): the disk backend's signed byte URLs."""

from django.urls import path

from . import storage_views

urlpatterns = [
    path("upload/<str:token>", storage_views.upload_part, name="storage-upload-part"),
    path("download/<str:token>", storage_views.download, name="storage-download"),
]
