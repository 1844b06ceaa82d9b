"""API routes of apps.briefings (mounted under /api/v1/)."""

urlpatterns: list = []
