"""Content negotiation: a `format` query parameter no renderer answers is the caller's mistake.

DRF answers `?format=xml` with 404, as if the resource were missing; the contract makes an
unusable query parameter a 400 (the error envelope naming it), never a 404 or silently ignored.
"""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation


class StrictContentNegotiation(DefaultContentNegotiation):
    def filter_renderers(self, renderers, format):
        found = [renderer for renderer in renderers if renderer.format == format]
        if not found:
            known = ", ".join(sorted({renderer.format for renderer in renderers}))
            raise serializers.ValidationError({"format": [f"Must be one of: {known}."]})
        return found
