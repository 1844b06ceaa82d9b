"""The clips API for devices (PROTOCOL.md "Clips"): declare, part URLs, upload status, complete.

Choices within the contract: any enrolled device may upload (people get 403, another device's
clip is 404); a declared size over RTCC_CLIP_MAX_SIZE is 400 on `size_bytes` (413 is kept for
request bodies); re-declaring with another size or hash is 409 `clip_conflict`; `complete`
before every part is stored with its right size is 409 `upload_incomplete` with the numbers in
`error.missing`; a store that fails is 503 `storage_unavailable`.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.context import AuditContext
from apps.core.errors import envelope
from apps.core.fields import StrictCharField, StrictIntegerField
from apps.devices.permissions import IsRecordingDevice

from ..serializers import ClipDeclareIn, ClipUploadOut, PartNumbersIn
from . import selectors, services

PartsOut = inline_serializer(
    "ClipPartsOut",
    {
        "parts": serializers.ListField(
            child=inline_serializer(
                "ClipPartUrl",
                {
                    "number": StrictIntegerField(),
                    "url": serializers.URLField(),
                    "method": StrictCharField(),
                    "headers": serializers.DictField(child=StrictCharField()),
                    "expires_at": serializers.DateTimeField(),
                },
            )
        )
    },
)
UploadStatusOut = inline_serializer(
    "ClipUploadStatus",
    {
        "state": StrictCharField(),
        "received": serializers.ListField(child=StrictIntegerField()),
        "missing": serializers.ListField(child=StrictIntegerField()),
    },
)
CompleteOut = inline_serializer("ClipCompleteOut", {"id": serializers.UUIDField(), "state": StrictCharField()})


def _device_clip(request, clip_id):
    """The requesting device's clip; the request is news of its upload (the stale-upload sweep
    counts 48 hours from the device's last request, even one answered with an error)."""
    clip = selectors.clip_for_device(device=request.user, clip_id=clip_id)
    services.clip_upload_seen(clip)
    return clip


def clip_declare(request) -> Response:
    """POST /clips (a camera or phone, IsRecordingDevice): declares a clip; served by apps.footage.apis.ClipsApi,
    whose GET is the records search."""
    data = ClipDeclareIn(data=request.data)
    data.is_valid(raise_exception=True)
    clip, created = services.clip_declare(device=request.user, context=AuditContext.of(request), **data.validated_data)
    return Response(ClipUploadOut(clip).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ClipPartsApi(APIView):
    permission_classes = [IsRecordingDevice]

    @extend_schema(request=PartNumbersIn, responses=PartsOut)
    def post(self, request, clip_id):
        clip = _device_clip(request, clip_id)
        data = PartNumbersIn(data=request.data)
        data.is_valid(raise_exception=True)
        parts = services.clip_part_urls(
            clip=clip, numbers=data.validated_data["numbers"], context=AuditContext.of(request)
        )
        for part in parts:
            if part["url"].startswith("/"):  # disk backend: rtcc's own signed URL
                part["url"] = request.build_absolute_uri(part["url"])
        return Response({"parts": parts})


class ClipUploadApi(APIView):
    permission_classes = [IsRecordingDevice]

    @extend_schema(responses=UploadStatusOut)
    def get(self, request, clip_id):
        clip = _device_clip(request, clip_id)
        return Response(selectors.clip_upload_status(clip=clip))


class ClipCompleteApi(APIView):
    permission_classes = [IsRecordingDevice]

    @extend_schema(request=None, responses={202: CompleteOut})
    def post(self, request, clip_id):
        clip = _device_clip(request, clip_id)
        try:
            clip = services.clip_complete(clip=clip, context=AuditContext.of(request))
        except services.UploadIncompleteError as exc:
            body = envelope(exc.code, exc.message)
            body["error"]["missing"] = exc.missing
            return Response(body, status=exc.status)
        return Response({"id": str(clip.pk), "state": clip.state}, status=status.HTTP_202_ACCEPTED)
