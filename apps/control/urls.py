"""API routes of apps.control (mounted under /api/v1/)."""

urlpatterns: list = []
