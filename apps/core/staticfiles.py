"""Static files served by the web process itself, where a path that climbs out of the static
folders (`/static/%2e%2e/...`) or holds a NUL is a 404, not Django's SuspiciousFileOperation 500."""

from __future__ import annotations

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousOperation
from django.http import Http404


class SafeASGIStaticFilesHandler(ASGIStaticFilesHandler):
    def serve(self, request):
        try:
            return super().serve(request)
        except (SuspiciousOperation, ValueError) as exc:
            raise Http404("Not found.") from exc
