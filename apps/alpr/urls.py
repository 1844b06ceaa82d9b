from django.urls import path

from . import adapters, apis

urlpatterns = [
    path("plate-reads", apis.PlateReadsApi.as_view(), name="alpr-reads"),
    path("plate-reads/<uuid:read_id>/image", apis.PlateReadImageApi.as_view(), name="alpr-read-image"),
    path("plate-reads/openalpr", adapters.OpenAlprApi.as_view(), name="alpr-openalpr"),
    path("plate-reads/platerecognizer", adapters.PlateRecognizerApi.as_view(), name="alpr-platerecognizer"),
    path("hotlists", apis.HotlistsApi.as_view(), name="alpr-hotlists"),
    path("hotlists/<uuid:hotlist_id>", apis.HotlistApi.as_view(), name="alpr-hotlist"),
    path("hotlists/<uuid:hotlist_id>/entries", apis.EntriesApi.as_view(), name="alpr-entries"),
    path("hotlists/<uuid:hotlist_id>/entries/<uuid:entry_id>", apis.EntryApi.as_view(), name="alpr-entry"),
    path("hotlists/<uuid:hotlist_id>/import", apis.HotlistImportApi.as_view(), name="alpr-import"),
    path("hits", apis.HitsApi.as_view(), name="alpr-hits"),
    path("hits/<uuid:hit_id>", apis.HitApi.as_view(), name="alpr-hit"),
    path("hits/<uuid:hit_id>/confirm", apis.HitConfirmApi.as_view(), name="alpr-hit-confirm"),
    path("hits/<uuid:hit_id>/reject", apis.HitRejectApi.as_view(), name="alpr-hit-reject"),
    path("hits/<uuid:hit_id>/brief", apis.HitBriefApi.as_view(), name="alpr-hit-brief"),
    path("hits/<uuid:hit_id>/brief/preview", apis.HitBriefPreviewApi.as_view(), name="alpr-hit-brief-preview"),
]
