"""API routes of apps.devices (mounted under /api/v1/)."""

urlpatterns: list = []
