"""The one route both halves of footage answer: `/clips` (GET: the records search, people;
POST: a device declares a clip, ingest). Each method calls its half; neither half knows the other."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema

from apps.accounts.permissions import IsPerson, PermissionsByMethod
from apps.devices.permissions import IsRecordingDevice

from .ingest import apis as ingest_apis
from .records import apis as records_apis
from .serializers import ClipDeclareIn, ClipUploadOut


class ClipsApi(PermissionsByMethod):
    permission_classes = [IsPerson]
    permissions_by_method = {"POST": [IsRecordingDevice]}
    list_filters = records_apis.ClipSearchIn

    @extend_schema(parameters=[records_apis.ClipSearchIn], responses=records_apis.ClipRecordOut(many=True))
    def get(self, request):
        return records_apis.clip_search(request, view=self)

    @extend_schema(request=ClipDeclareIn, responses={201: ClipUploadOut, 200: ClipUploadOut})
    def post(self, request):
        return ingest_apis.clip_declare(request)
