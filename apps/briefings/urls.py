"""API routes of apps.briefings (mounted under /api/v1/)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("incidents", apis.IncidentsApi.as_view(), name="incidents"),
    path("incidents/<uuid:incident_id>", apis.IncidentApi.as_view(), name="incident"),
    path("incidents/<uuid:incident_id>/officers", apis.IncidentOfficersApi.as_view(), name="incident-officers"),
    path("media", apis.MediaUploadApi.as_view(), name="media"),
    path("media/<uuid:media_id>", apis.MediaApi.as_view(), name="media-detail"),
    path("media/<uuid:media_id>/image", apis.MediaImageApi.as_view(), name="media-image"),
    path("media/<uuid:media_id>/thumbnail", apis.MediaThumbnailApi.as_view(), name="media-thumbnail"),
    path("briefings", apis.BriefingsApi.as_view(), name="briefings"),
    path("briefings/preview", apis.BriefingPreviewApi.as_view(), name="briefing-preview"),
    path("briefings/<uuid:briefing_id>", apis.BriefingApi.as_view(), name="briefing"),
    path("briefings/<uuid:briefing_id>/deliveries", apis.BriefingDeliveriesApi.as_view(), name="briefing-deliveries"),
    path("briefings/<uuid:briefing_id>/ack", apis.BriefingAckApi.as_view(), name="briefing-ack"),
    path("me/briefings", apis.MyBriefingsApi.as_view(), name="my-briefings"),
    path("me/outbox", apis.MyOutboxApi.as_view(), name="my-outbox"),
]
