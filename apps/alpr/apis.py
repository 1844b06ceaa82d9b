"""The plate-reader API (PROTOCOL.md "Plate readers (ALPR)", "Hotlists and hits")."""

from __future__ import annotations

from django.db import transaction
from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Role
from apps.accounts.permissions import HasRole
from apps.audit.services import AuditContext, audit_record
from apps.briefings import conf as briefing_conf
from apps.briefings.serializers import BriefingOut
from apps.core.errors import NotFound, TooLarge
from apps.core.filters import refuse_unknown_params
from apps.core.pagination import CappedCountPagination, StandardPagination
from apps.counters import names as counted
from apps.counters.services import counter_add
from apps.devices.permissions import IsPlateReader
from apps.integrations.storage import started

from . import conf, selectors, services, validation
from .payloads import entry_payload, hit_payload, hotlist_payload, read_payload
from .serializers import (
    BriefAudienceIn,
    BriefIn,
    ConfirmIn,
    EntryIn,
    EntryOut,
    HitFilterIn,
    HitOut,
    HotlistIn,
    HotlistOut,
    ImportIn,
    ImportOut,
    IngestOut,
    ReadBatchIn,
    ReadOut,
    RejectIn,
    SearchIn,
)

LISTS = HasRole(Role.OPERATOR, Role.IT)
OPERATOR = HasRole(Role.OPERATOR)
SEARCHERS = HasRole(Role.OPERATOR, Role.CLERK)


def _base(request) -> str:
    return request.build_absolute_uri("/")


def _query(request, allowed) -> dict:
    """The query string as a dict; an unknown parameter is a 400 (never silently ignored)."""
    refuse_unknown_params(request.query_params, allowed)
    return {k: v for k, v in request.query_params.items() if v != "" and k not in {"page", "page_size"}}


class ReadSearchPagination(CappedCountPagination):
    """A plate search's page: counted up to a cap over read_at (the second column of the plate
    indexes, the first of the time one), past which `count` is the planner's estimate."""

    count_column = "read_at"

    def count_cap(self) -> int:
        return conf.search_count_cap()


class PlateReadsApi(APIView):
    list_params = ("plate", "from", "to", "near", "reason", "case_number")

    def get_permissions(self):
        return [IsPlateReader()] if self.request.method == "POST" else [SEARCHERS()]

    @extend_schema(request=ReadBatchIn, responses=IngestOut)
    def post(self, request):
        reads = validation.read_batch(request.data)  # the rules of ReadBatchIn, checked by hand for speed
        accepted, duplicates, hits = services.read_ingest(
            reader=request.user, reads=reads, context=AuditContext.of(request)
        )
        return Response({"accepted": accepted, "duplicates": duplicates, "hits": [str(h.pk) for h in hits]})

    @extend_schema(parameters=[SearchIn], responses=ReadOut(many=True))
    def get(self, request):
        query = _query(request, self.list_params)
        if "from" in query:
            query["start"] = query.pop("from")
        if "to" in query:
            query["end"] = query.pop("to")
        search = SearchIn(data=query)
        if not search.is_valid():
            errors = {("from" if k == "start" else "to" if k == "end" else k): v for k, v in search.errors.items()}
            from rest_framework.exceptions import ValidationError

            raise ValidationError(errors)
        v = search.validated_data
        reads = selectors.read_search(plate=v.get("plate"), start=v.get("start"), end=v.get("end"), near=v.get("near"))
        paginator = ReadSearchPagination()
        page = paginator.paginate_queryset(reads, request, view=self)
        hits = selectors.hit_ids_by_read([r.pk for r in page])
        with transaction.atomic():  # the search and its count together
            counter_add(name=counted.PLATE_SEARCH)
            audit_record(
                action="plate_read.search",
                actor=request.user,
                object_type="read",
                context=AuditContext.of(request),
                details={
                    "plate": v.get("plate", ""),
                    "from": v.get("start"),
                    "to": v.get("end"),
                    "near": list(v["near"]) if v.get("near") else None,
                    "reason": v["reason"],
                    "case_number": v["case_number"],
                    "results": paginator.total,
                    **({} if paginator.exact else {"results_exact": False}),
                },
            )
        base = _base(request)
        return paginator.get_paginated_response([read_payload(r, hits=hits.get(r.pk, []), base_url=base) for r in page])


class PlateReadImageApi(APIView):
    """The read's stored image (operators and clerks; each look audited)."""

    permission_classes = [SEARCHERS]

    @extend_schema(responses={(200, "image/jpeg"): bytes})
    def get(self, request, read_id):
        from .models import Read

        read = Read.objects.filter(pk=read_id).only("id", "image_key", "image_size", "plate_normalized").first()
        if read is None or not read.image_key:
            raise NotFound("No such read image.")
        audit_record(
            action="plate_read.image_view",
            actor=request.user,
            object_type="read",
            object_id=read.pk,
            context=AuditContext.of(request),
            details={"plate": read.plate_normalized},
        )
        response = StreamingHttpResponse(started(read.image_key), content_type="image/jpeg")
        if read.image_size:
            response["Content-Length"] = str(read.image_size)
        response["Cache-Control"] = "private, max-age=300"
        return response


class HotlistsApi(APIView):
    permission_classes = [LISTS]

    @extend_schema(responses=HotlistOut(many=True))
    def get(self, request):
        paginator = StandardPagination()
        page = paginator.paginate_queryset(selectors.hotlist_list().order_by("-priority", "name", "id"), request, self)
        return paginator.get_paginated_response([hotlist_payload(h) for h in page])

    @extend_schema(request=HotlistIn, responses={201: HotlistOut})
    def post(self, request):
        data = HotlistIn(data=request.data)
        data.is_valid(raise_exception=True)
        hotlist = services.hotlist_create(actor=request.user, context=AuditContext.of(request), **data.validated_data)
        return Response(hotlist_payload(hotlist, entry_count=0), status=status.HTTP_201_CREATED)


class HotlistApi(APIView):
    permission_classes = [LISTS]

    @extend_schema(responses=HotlistOut)
    def get(self, request, hotlist_id):
        return Response(hotlist_payload(selectors.hotlist_get(hotlist_id=hotlist_id)))


class EntriesApi(APIView):
    permission_classes = [LISTS]

    @extend_schema(responses=EntryOut(many=True))
    def get(self, request, hotlist_id):
        hotlist = selectors.hotlist_get(hotlist_id=hotlist_id)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(selectors.entry_list(hotlist=hotlist), request, view=self)
        return paginator.get_paginated_response([entry_payload(e) for e in page])

    @extend_schema(request=EntryIn, responses={201: EntryOut})
    def post(self, request, hotlist_id):
        hotlist = selectors.hotlist_get(hotlist_id=hotlist_id)
        data = EntryIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = {k: v for k, v in data.validated_data.items() if v is not None}
        if "vehicle" in fields:
            fields["vehicle"] = {k: v for k, v in fields["vehicle"].items() if v not in (None, "")}
        entry = services.entry_add(actor=request.user, hotlist=hotlist, context=AuditContext.of(request), **fields)
        return Response(entry_payload(entry), status=status.HTTP_201_CREATED)


class EntryApi(APIView):
    permission_classes = [LISTS]

    @extend_schema(responses=EntryOut)
    def get(self, request, hotlist_id, entry_id):
        hotlist = selectors.hotlist_get(hotlist_id=hotlist_id)
        return Response(entry_payload(selectors.entry_get(hotlist=hotlist, entry_id=entry_id)))

    @extend_schema(responses={204: None})
    def delete(self, request, hotlist_id, entry_id):
        hotlist = selectors.hotlist_get(hotlist_id=hotlist_id)
        entry = selectors.entry_get(hotlist=hotlist, entry_id=entry_id)
        services.entry_remove(actor=request.user, entry=entry, context=AuditContext.of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class HotlistImportApi(APIView):
    permission_classes = [LISTS]
    parser_classes = [MultiPartParser]

    @extend_schema(request=ImportIn, responses=ImportOut)
    def post(self, request, hotlist_id):
        hotlist = selectors.hotlist_get(hotlist_id=hotlist_id)
        data = ImportIn(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        if upload.size > conf.max_import_bytes():
            raise TooLarge("The file is too large.")
        result = services.entries_import(
            actor=request.user,
            hotlist=hotlist,
            data=upload.read(),
            mode=data.validated_data["mode"],
            context=AuditContext.of(request),
        )
        return Response(result)


class HitsApi(APIView):
    list_params = ("state", "hotlist")

    permission_classes = [OPERATOR]

    @extend_schema(parameters=[HitFilterIn], responses=HitOut(many=True))
    def get(self, request):
        filters = HitFilterIn(data=_query(request, self.list_params))
        filters.is_valid(raise_exception=True)
        paginator = StandardPagination()
        ids = paginator.paginate_queryset(selectors.hit_list(**filters.validated_data), request, view=self)
        page = selectors.hit_rows(ids or [])
        hits = selectors.hit_ids_by_read([h.read_id for h in page])
        base = _base(request)
        return paginator.get_paginated_response(
            [hit_payload(h, read_hits=hits.get(h.read_id), base_url=base) for h in page]
        )


def _hit_out(request, hit) -> dict:
    hits = selectors.hit_ids_by_read([hit.read_id])
    return hit_payload(hit, read_hits=hits.get(hit.read_id), base_url=_base(request))


class HitApi(APIView):
    permission_classes = [OPERATOR]

    @extend_schema(responses=HitOut)
    def get(self, request, hit_id):
        return Response(_hit_out(request, selectors.hit_get(hit_id=hit_id)))


class HitConfirmApi(APIView):
    permission_classes = [OPERATOR]

    @extend_schema(request=ConfirmIn, responses=HitOut)
    def post(self, request, hit_id):
        hit = selectors.hit_get(hit_id=hit_id)
        data = ConfirmIn(data=request.data)
        data.is_valid(raise_exception=True)
        hit = services.hit_confirm(actor=request.user, hit=hit, context=AuditContext.of(request), **data.validated_data)
        return Response(_hit_out(request, hit))


class HitRejectApi(APIView):
    permission_classes = [OPERATOR]

    @extend_schema(request=RejectIn, responses=HitOut)
    def post(self, request, hit_id):
        hit = selectors.hit_get(hit_id=hit_id)
        data = RejectIn(data=request.data)
        data.is_valid(raise_exception=True)
        hit = services.hit_reject(actor=request.user, hit=hit, context=AuditContext.of(request), **data.validated_data)
        return Response(_hit_out(request, hit))


class HitBriefPreviewApi(APIView):
    """Whom a hit's briefing would reach, before it is sent: the default audience (officers with a
    phone or camera within the brief radius of the read) or the one named, counted as
    briefings/preview does."""

    permission_classes = [OPERATOR]

    @extend_schema(request=BriefAudienceIn, responses=dict)
    def post(self, request, hit_id):
        from apps.briefings import selectors as briefing_selectors

        hit = selectors.hit_get(hit_id=hit_id)
        data = BriefAudienceIn(data=request.data)
        data.is_valid(raise_exception=True)
        audience = services.hit_brief_audience(hit, data.validated_data.get("audience"))
        preview = briefing_selectors.audience_preview(audience=audience, incident=None)
        return Response({**preview, "audience": audience})


class HitBriefApi(APIView):
    permission_classes = [OPERATOR]

    @extend_schema(request=BriefIn, responses={201: BriefingOut})
    def post(self, request, hit_id):
        hit = selectors.hit_get(hit_id=hit_id)
        data = BriefIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        briefing = services.hit_brief(
            actor=request.user,
            hit=hit,
            priority=v["priority"],
            audience=v.get("audience"),
            body=v["body"],
            base_url=briefing_conf.public_base_url() or request.build_absolute_uri("/"),
            context=AuditContext.of(request),
        )
        from apps.briefings import selectors as briefing_selectors

        counts = {briefing.pk: briefing_selectors.briefing_counts(briefing=briefing)}
        out = BriefingOut(briefing, context={"request": request, "counts": counts}).data
        return Response({**out, "hit": str(hit.pk)}, status=status.HTTP_201_CREATED)
