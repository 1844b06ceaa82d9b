"""API routes of apps.footage (mounted under /api/v1/): ingest (devices upload clips) and records
(people search, read, file, hold, share and purge them)."""

from django.urls import path, re_path

from . import apis
from .ingest import apis as ingest
from .records import apis as records

urlpatterns = [
    path("clips", apis.ClipsApi.as_view(), name="clips"),  # GET: records search; POST: ingest declare
    # Ingest
    path("clips/<uuid:clip_id>/parts", ingest.ClipPartsApi.as_view(), name="clip-parts"),
    path("clips/<uuid:clip_id>/upload", ingest.ClipUploadApi.as_view(), name="clip-upload"),
    path("clips/<uuid:clip_id>/complete", ingest.ClipCompleteApi.as_view(), name="clip-complete"),
    # Records
    path("clips/<uuid:clip_id>", records.ClipDetailApi.as_view(), name="clip-detail"),
    path("clips/<uuid:clip_id>/access", records.ClipAccessApi.as_view(), name="clip-access"),
    path("clips/<uuid:clip_id>/hold", records.ClipHoldApi.as_view(), name="clip-hold"),
    path("clips/<uuid:clip_id>/custody", records.ClipCustodyApi.as_view(), name="clip-custody"),
    path("clips/<uuid:clip_id>/purge", records.ClipPurgeApi.as_view(), name="clip-purge"),
    path("categories", records.CategoriesApi.as_view(), name="categories"),
    # A case number may hold a slash (2025/00123).
    re_path(
        r"^cases/(?P<case_number>[^\x00-\x1f]{1,64})/manifest$",
        records.CaseManifestApi.as_view(),
        name="case-manifest",
    ),
]
