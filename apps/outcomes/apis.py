"""Assists, outcome statistics (JSON, CSV) and the public transparency report."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Role, User
from apps.accounts.permissions import HasRole
from apps.alpr.models import Hit
from apps.audit.services import AuditContext
from apps.briefings.models import Briefing, Incident
from apps.core.errors import InvalidInput, NotFound
from apps.core.filters import NOT_A_PARAMETER, refuse_unknown_params
from apps.core.pagination import StandardPagination
from apps.core.realtime import iso_time
from apps.counters.selectors import counted_window
from apps.leads.models import Lead

from . import selectors, services
from .models import OUTCOME_CODES, Assist
from .params import choice, window
from .serializers import AssistIn, AssistOut, AssistPatchIn, SuggestionOut

OPERATOR = HasRole(Role.OPERATOR)
READERS = HasRole(Role.OPERATOR, Role.CLERK)
STATS_READERS = HasRole(Role.OPERATOR, Role.CLERK, Role.IT)


def _known(model, value, field: str, **conditions):
    if value is None:
        return None
    found = model.objects.filter(pk=value, **conditions).first()
    if found is None:
        raise InvalidInput(f"Unknown {field}.", fields={field: [f"No {field} with id {value}."]})
    return found


def _resolve(v: dict) -> dict:
    """Ids in the input -> the objects they name (400 when one does not exist)."""
    out = dict(v)
    if "incident" in v:
        out["incident"] = _known(Incident, v["incident"], "incident")
    if "officer" in v:
        out["officer"] = _known(User, v["officer"], "officer", role=Role.OFFICER)
    if "briefing" in v:
        out["briefing"] = _known(Briefing, v["briefing"], "briefing")
    if "lead" in v:
        out["lead"] = _known(Lead, v["lead"], "lead")
    if v.get("hit") is not None:  # kept as the hit's id (a hit's reads may be deleted, its id stays named)
        out["hit"] = _known(Hit, v["hit"], "hit").pk
    occurred_at = v.get("occurred_at")
    if occurred_at is not None and occurred_at > timezone.now() + timedelta(minutes=5):
        raise InvalidInput("occurred_at is in the future.", fields={"occurred_at": ["Must not be in the future."]})
    return out


class AssistsApi(APIView):
    list_params = ("case_number",)

    def get_permissions(self):
        return [OPERATOR()] if self.request.method == "POST" else [READERS()]

    @extend_schema(
        parameters=[OpenApiParameter("case_number", str, description="Only this case's assists.")],
        responses=AssistOut(many=True),
    )
    def get(self, request):
        case_number = request.query_params.get("case_number")
        paginator = StandardPagination()
        page = paginator.paginate_queryset(selectors.assist_list(case_number=case_number), request, view=self)
        return paginator.get_paginated_response(AssistOut(page, many=True).data)

    @extend_schema(request=AssistIn, responses={201: AssistOut})
    def post(self, request):
        data = AssistIn(data=request.data)
        data.is_valid(raise_exception=True)
        assist = services.assist_create(
            actor=request.user, context=AuditContext.of(request), **_resolve(data.validated_data)
        )
        return Response(AssistOut(assist).data, status=status.HTTP_201_CREATED)


class AssistApi(APIView):
    def get_permissions(self):
        return [OPERATOR()] if self.request.method == "PATCH" else [READERS()]

    def _assist(self, assist_id) -> Assist:
        assist = Assist.objects.filter(pk=assist_id).first()
        if assist is None:
            raise NotFound("No such assist.")
        return assist

    @extend_schema(responses=AssistOut)
    def get(self, request, assist_id):
        return Response(AssistOut(self._assist(assist_id)).data)

    @extend_schema(request=AssistPatchIn, responses=AssistOut)
    def patch(self, request, assist_id):
        assist = self._assist(assist_id)
        data = AssistPatchIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = _resolve(data.validated_data)
        for name in ("case_number", "notes"):
            if name in fields and fields[name] is None:
                fields[name] = ""
        assist = services.assist_update(actor=request.user, assist=assist, context=AuditContext.of(request), **fields)
        return Response(AssistOut(assist).data)


class AssistSuggestionsApi(APIView):
    """Assists the center likely gave (from briefings sent in the last `days`), to confirm."""

    permission_classes = [READERS]

    @extend_schema(
        parameters=[
            OpenApiParameter("days", int, description="Briefings sent in the last this many days (1-366; 30).")
        ],
        responses=inline_serializer("SuggestionsOut", {"results": SuggestionOut(many=True)}),
    )
    def get(self, request):
        refuse_unknown_params(request.query_params, {"days"}, paged=False)
        raw = request.query_params.get("days", "30")
        if not raw.isdigit() or not 1 <= int(raw) <= 366:
            raise InvalidInput("days: a whole number from 1 to 366.", fields={"days": ["From 1 to 366."]})
        since = timezone.now() - timedelta(days=int(raw))
        return Response({"results": SuggestionOut(selectors.assist_suggestions(since=since), many=True).data})


class AssistSuggestionDismissApi(APIView):
    permission_classes = [OPERATOR]

    @extend_schema(request=None, responses={204: None})
    def post(self, request, briefing_id):
        briefing = Briefing.objects.filter(pk=briefing_id).first()
        if briefing is None:
            raise NotFound("No such briefing.")
        services.suggestion_dismiss(actor=request.user, briefing=briefing, context=AuditContext.of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _counted(start, end) -> dict:
    """What was counted for the window: the window itself, or from the top of its first hour when
    it starts too far back for the counters' exact rows (apps/counters/selectors.py)."""
    counted_from, counted_to = counted_window(start, end)
    return {"counted_from": iso_time(counted_from), "counted_to": iso_time(counted_to)}


def _iso_series(stats: dict) -> dict:
    return {
        **stats,
        "from": iso_time(stats["from"]),
        "to": iso_time(stats["to"]),
        "series": [{**row, "start": iso_time(row["start"])} for row in stats["series"]],
    }


def stats_csv(stats: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["start", "assists", *OUTCOME_CODES])
    for row in stats["series"]:
        writer.writerow([iso_time(row["start"]), row["assists"], *(row["outcomes"][code] for code in OUTCOME_CODES)])
    return out.getvalue()


class FormatMixin:
    """`format=json|csv` is ours to read (DRF would answer 404 for a format it has no renderer for)."""

    def perform_content_negotiation(self, request, force=False):
        if request.query_params.get("format") is not None:
            return (JSONRenderer(), JSONRenderer.media_type)
        return super().perform_content_negotiation(request, force)  # type: ignore[misc]


# The answers' shapes for the schema (the views build plain dicts: counters, not rows). Each use
# takes fresh fields (a DRF field belongs to one parent), of classes declared once (the schema's
# components are named by class).


def _counts() -> serializers.DictField:
    return serializers.DictField(child=serializers.IntegerField(), help_text="code -> count")


class RemoteRecordingCounts(serializers.Serializer):
    start_recording = serializers.IntegerField()
    stop_recording = serializers.IntegerField()


class PlateReadCounts(serializers.Serializer):
    received = serializers.IntegerField()
    deleted = serializers.IntegerField()


class HitCounts(serializers.Serializer):
    new = serializers.IntegerField()
    confirmed = serializers.IntegerField()
    rejected = serializers.IntegerField()


class LeadCounts(serializers.Serializer):
    created = serializers.IntegerField()
    verified = serializers.IntegerField()
    rejected = serializers.IntegerField()


class LeadCountsByKind(serializers.Serializer):
    facial_recognition = LeadCounts()
    nibin = LeadCounts()
    other = LeadCounts()


def _report_fields() -> dict:
    return {
        "remote_recording": RemoteRecordingCounts(),
        "live_views": serializers.IntegerField(),
        "evidence_accesses": serializers.IntegerField(),
        "plate_reads": PlateReadCounts(),
        "plate_searches": serializers.IntegerField(),
        "hits": HitCounts(),
        "leads": LeadCountsByKind(),
        "briefings": serializers.IntegerField(),
    }


TransparencyOut = inline_serializer(
    "TransparencyOut",
    {
        "from": serializers.DateTimeField(),
        "to": serializers.DateTimeField(),
        "counted_from": serializers.DateTimeField(
            help_text="`from`, or rounded down to its hour when it lies more than 7 days back"
        ),
        "counted_to": serializers.DateTimeField(help_text="`to`, or rounded up to its hour with `counted_from`"),
        **_report_fields(),
        "months": serializers.ListField(
            child=inline_serializer("TransparencyMonth", {"start": serializers.DateTimeField(), **_report_fields()}),
            required=False,
        ),
    },
)
OutcomeStatsOut = inline_serializer(
    "OutcomeStatsOut",
    {
        "from": serializers.DateTimeField(),
        "to": serializers.DateTimeField(),
        "counted_from": serializers.DateTimeField(),
        "counted_to": serializers.DateTimeField(),
        "interval": serializers.ChoiceField(choices=list(selectors.INTERVALS)),
        "assists": serializers.IntegerField(),
        "outcomes": _counts(),
        "tools": _counts(),
        "series": serializers.ListField(
            child=inline_serializer(
                "OutcomeStatsPeriod",
                {
                    "start": serializers.DateTimeField(),
                    "assists": serializers.IntegerField(),
                    "outcomes": _counts(),
                    "tools": _counts(),
                },
            )
        ),
    },
)


class OutcomeStatsApi(FormatMixin, APIView):
    permission_classes = [STATS_READERS]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str),
            OpenApiParameter("to", str),
            OpenApiParameter("interval", str, enum=list(selectors.INTERVALS)),
            OpenApiParameter("format", str, enum=["json", "csv"]),
        ],
        responses={(200, "application/json"): OutcomeStatsOut, (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request):
        refuse_unknown_params(request.query_params, {"from", "to", "interval", "format"}, NOT_A_PARAMETER, paged=False)
        start, end = window(request.query_params, default=timedelta(days=365))
        interval = choice(request.query_params, "interval", selectors.INTERVALS, "month")
        fmt = choice(request.query_params, "format", ("json", "csv"), "json")
        if len(selectors.periods(interval, start, end)) > selectors.MAX_PERIODS:
            raise InvalidInput(
                "Too many periods: choose a longer interval.", fields={"interval": ["Too many periods."]}
            )
        stats = selectors.outcome_stats(start=start, end=end, interval=interval)
        if fmt == "csv":
            response = HttpResponse(stats_csv(stats), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="outcomes.csv"'
            return response
        return Response({**_iso_series(stats), **_counted(start, end)})


class TransparencyApi(FormatMixin, APIView):
    """Public: counts only, never a name, plate or id. No login."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str),
            OpenApiParameter("to", str),
            OpenApiParameter("months", str, enum=["true", "false"], description="Also count month by month (true)."),
        ],
        responses={200: TransparencyOut},
    )
    def get(self, request):
        refuse_unknown_params(request.query_params, {"from", "to", "months", "format"}, NOT_A_PARAMETER, paged=False)
        start, end = window(request.query_params, default=timedelta(days=30))
        monthly = choice(request.query_params, "months", ("true", "false"), "true") == "true"
        choice(request.query_params, "format", ("json",), "json")  # the report comes as JSON only
        report = selectors.transparency_report(start=start, end=end, monthly=monthly)
        report["from"], report["to"] = iso_time(start), iso_time(end)
        report.update(_counted(start, end))
        if monthly:
            report["months"] = [{**m, "start": iso_time(m["start"])} for m in report["months"]]
        return Response(report)
