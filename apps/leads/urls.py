"""API routes of apps.leads (mounted under /api/v1/)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("leads", apis.LeadsApi.as_view(), name="leads"),
    path("leads/<uuid:lead_id>", apis.LeadApi.as_view(), name="lead"),
    path("leads/<uuid:lead_id>/review", apis.LeadReviewApi.as_view(), name="lead-review"),
    path("leads/<uuid:lead_id>/share", apis.LeadShareApi.as_view(), name="lead-share"),
    path("leads/<uuid:lead_id>/related", apis.LeadRelatedApi.as_view(), name="lead-related"),
]
