"""The leads API: create, list, review (two-person rule), share, related evidence."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Role
from apps.accounts.permissions import HasRole
from apps.alpr import selectors as alpr_selectors
from apps.alpr.payloads import read_payload
from apps.audit.services import AuditContext
from apps.briefings import conf as briefings_conf
from apps.briefings import selectors as briefings_selectors
from apps.briefings.models import Incident, Media
from apps.briefings.serializers import BriefingOut
from apps.core.errors import InvalidInput, NotFound
from apps.core.pagination import StandardPagination
from apps.core.realtime import iso_time
from apps.footage.serializers import ClipOut

from . import selectors, services
from .models import Lead
from .serializers import LeadCreateIn, LeadFilterIn, LeadOut, LeadReviewIn, LeadShareIn, RelatedIn

OPERATOR = HasRole(Role.OPERATOR)
READERS = HasRole(Role.OPERATOR, Role.CLERK)


def _lead(lead_id) -> Lead:
    lead = selectors.lead_list().filter(pk=lead_id).first()
    if lead is None:
        raise NotFound("No such lead.")
    return lead


def _known(model, value, field: str):
    if value is None:
        return None
    found = model.objects.filter(pk=value).first()
    if found is None:
        raise InvalidInput(f"Unknown {field}.", fields={field: [f"No {field} with id {value}."]})
    return found


def _jsonable_events(events: list[dict]) -> list[dict]:
    out = []
    for event in events:
        event = dict(event)
        event["occurred_at"] = iso_time(event["occurred_at"])
        event["location"] = dict(event["location"])
        event["items"] = [dict(item) for item in event.get("items") or []]
        out.append(event)
    return out


def _jsonable_candidates(candidates: list[dict]) -> list[dict]:
    return [{**c, "photo": str(c["photo"])} if c.get("photo") else dict(c) for c in candidates]


class LeadsApi(APIView):
    list_filters = LeadFilterIn

    def get_permissions(self):
        return [OPERATOR()] if self.request.method == "POST" else [READERS()]

    @extend_schema(parameters=[LeadFilterIn], responses=LeadOut(many=True))
    def get(self, request):
        filters = LeadFilterIn(data=request.query_params)
        filters.is_valid(raise_exception=True)
        given = dict(filters.validated_data)
        if given.pop("queue", None) == "review":  # the console's queue: not my own
            queryset = selectors.lead_review_queue(user=request.user)
        else:
            queryset = selectors.lead_list(**given)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        services.leads_viewed(actor=request.user, leads=page, context=AuditContext.of(request))
        return paginator.get_paginated_response(LeadOut(page, many=True).data)

    @extend_schema(request=LeadCreateIn, responses={201: LeadOut})
    def post(self, request):
        data = LeadCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        lead = services.lead_create(
            actor=request.user,
            context=AuditContext.of(request),
            kind=v["kind"],
            case_number=v["case_number"],
            summary=v["summary"],
            incident=_known(Incident, v.get("incident"), "incident"),
            probe_media=_known(Media, v.get("probe_media"), "probe_media"),
            search_system=v.get("search_system", ""),
            search_system_version=v.get("search_system_version", ""),
            candidates=_jsonable_candidates(v.get("candidates") or []),
            nibin_lead_number=v.get("nibin_lead_number", ""),
            events=_jsonable_events(v.get("events") or []),
        )
        return Response(LeadOut(_lead(lead.pk)).data, status=status.HTTP_201_CREATED)


class LeadApi(APIView):
    permission_classes = [READERS]

    @extend_schema(responses=LeadOut)
    def get(self, request, lead_id):
        lead = _lead(lead_id)
        services.leads_viewed(actor=request.user, leads=[lead], context=AuditContext.of(request))
        return Response(LeadOut(lead).data)


class LeadReviewApi(APIView):
    permission_classes = [OPERATOR]

    @extend_schema(request=LeadReviewIn, responses=LeadOut)
    def post(self, request, lead_id):
        lead = _lead(lead_id)
        services.refuse_own_review(lead=lead, actor=request.user)
        data = LeadReviewIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.lead_review(actor=request.user, lead=lead, context=AuditContext.of(request), **data.validated_data)
        return Response(LeadOut(_lead(lead.pk)).data)


class LeadShareApi(APIView):
    permission_classes = [OPERATOR]

    @extend_schema(request=LeadShareIn, responses={201: BriefingOut})
    def post(self, request, lead_id):
        lead = _lead(lead_id)
        data = LeadShareIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        briefing = services.lead_share(
            actor=request.user,
            lead=lead,
            context=AuditContext.of(request),
            priority=v["priority"],
            audience=v["audience"],
            title=v["title"],
            body=v["body"],
            base_url=briefings_conf.public_base_url() or request.build_absolute_uri("/"),
        )
        counts = {briefing.pk: briefings_selectors.briefing_counts(briefing=briefing)}
        out = dict(BriefingOut(briefing, context={"request": request, "counts": counts}).data)
        out["lead"] = str(lead.pk)
        return Response(out, status=status.HTTP_201_CREATED)


class LeadRelatedApi(APIView):
    """What the center already holds near each linked event: clips (metadata) and plate reads.
    A look at plate reads is a plate search: audited and counted."""

    permission_classes = [READERS]

    @extend_schema(parameters=[RelatedIn], responses={200: OpenApiTypes.OBJECT})
    def get(self, request, lead_id):
        lead = _lead(lead_id)
        params = RelatedIn(data=request.query_params)
        params.is_valid(raise_exception=True)
        related = selectors.lead_related(lead=lead, **params.validated_data)
        base_url = request.build_absolute_uri("/")
        hit_ids = alpr_selectors.hit_ids_by_read([item["read"].pk for item in related["plate_reads"]])
        clips = [
            {**ClipOut(item["clip"]).data, "events": item["events"], "distance_m": round(item["distance_m"], 1)}
            for item in related["clips"]
        ]
        reads = [
            {
                **read_payload(item["read"], hits=hit_ids.get(item["read"].pk, []), base_url=base_url),
                "events": item["events"],
                "distance_m": round(item["distance_m"], 1),
            }
            for item in related["plate_reads"]
        ]
        if lead.events:
            services.lead_related_record(
                actor=request.user,
                lead=lead,
                params=params.validated_data,
                found=(len(clips), len(reads)),
                context=AuditContext.of(request),
            )
        return Response(
            {
                "clips": clips,
                "plate_reads": reads,
                "events": [{"index": i, **event} for i, event in enumerate(selectors.events_out(lead.events))],
                "radius_m": params.validated_data.get("radius_m", selectors.conf.related_radius_m()),
                "hours": params.validated_data.get("hours", selectors.conf.related_hours()),
                "limit": selectors.conf.related_limit(),
                "truncated": related["truncated"],
            }
        )
