"""API routes of apps.footage (mounted under /api/v1/)."""

urlpatterns: list = []
