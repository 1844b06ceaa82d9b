"""API routes of the records side of apps.footage (included first by apps/footage/urls.py, under /api/v1/)."""

from django.urls import path, re_path

from . import records_apis

urlpatterns = [
    # GET (search) here; POST (a device declares a clip) is the ingest side's view, inherited.
    path("clips", records_apis.ClipsApi.as_view(), name="clips-search"),
    path("clips/<uuid:clip_id>", records_apis.ClipDetailApi.as_view(), name="clip-detail"),
    path("clips/<uuid:clip_id>/access", records_apis.ClipAccessApi.as_view(), name="clip-access"),
    path("clips/<uuid:clip_id>/hold", records_apis.ClipHoldApi.as_view(), name="clip-hold"),
    path("clips/<uuid:clip_id>/custody", records_apis.ClipCustodyApi.as_view(), name="clip-custody"),
    path("clips/<uuid:clip_id>/purge", records_apis.ClipPurgeApi.as_view(), name="clip-purge"),
    path("categories", records_apis.CategoriesApi.as_view(), name="categories"),
    # A case number may hold a slash (2025/00123).
    re_path(
        r"^cases/(?P<case_number>[^\x00-\x1f]{1,64})/manifest$",
        records_apis.CaseManifestApi.as_view(),
        name="case-manifest",
    ),
]
