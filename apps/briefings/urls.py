"""API routes of apps.briefings (mounted under /api/v1/)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("incidents", apis.IncidentsApi.as_view(), name="incidents"),
    path("incidents/<uuid:incident_id>", apis.IncidentApi.as_view(), name="incident"),
    path("incidents/<uuid:incident_id>/officers", apis.IncidentOfficersApi.as_view(), name="incident-officers"),
]
