"""API routes of apps.footage (mounted under /api/v1/)."""

from django.urls import include, path

from . import apis

urlpatterns = [
    # Records side first: GET /clips (search; its view inherits the POST below), clips/{id}, access, hold,
    # custody, categories, case manifests (apps/footage/records_urls.py).
    path("", include("apps.footage.records_urls")),
    path("clips", apis.ClipsApi.as_view(), name="clips"),
    path("clips/<uuid:clip_id>/parts", apis.ClipPartsApi.as_view(), name="clip-parts"),
    path("clips/<uuid:clip_id>/upload", apis.ClipUploadApi.as_view(), name="clip-upload"),
    path("clips/<uuid:clip_id>/complete", apis.ClipCompleteApi.as_view(), name="clip-complete"),
]
