"""The briefings API: incidents, media, briefings, deliveries, acknowledgements."""

from __future__ import annotations

from datetime import datetime

from django.http import StreamingHttpResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Role
from apps.accounts.permissions import AnyOf, HasRole, IsOfficer, PermissionsByMethod, is_person
from apps.audit.services import AuditContext
from apps.core.errors import InvalidInput, NotFound
from apps.core.filters import NOT_A_PARAMETER, refuse_unknown_params
from apps.core.pagination import paginated_response
from apps.devices.models import Device
from apps.devices.permissions import IsOfficerPhone
from apps.devices.selectors import phones_held
from apps.integrations import push
from apps.integrations.storage import started

from . import conf, media, selectors, services
from .origins import origins_of
from .serializers import (
    BriefingAudienceIn,
    BriefingCreateIn,
    BriefingOut,
    DeliveryOut,
    IncidentCreateIn,
    IncidentOut,
    MediaOut,
    MediaUploadIn,
    OfficerIdsIn,
)

OPERATOR = HasRole(Role.OPERATOR, message="Only operators may do this.")
OPERATOR_OR_OFFICER = HasRole(Role.OPERATOR, Role.OFFICER)
IsOfficerOrPhone = AnyOf(IsOfficer, IsOfficerPhone, message="This endpoint is for officers and their phones.")
IsReader = AnyOf(OPERATOR_OR_OFFICER, IsOfficerPhone, message="Your role does not allow this.")  # and officers' phones


def _officer_id(user):
    return user.officer_id if isinstance(user, Device) else user.pk


# Incidents -------------------------------------------------------------------------------------


class IncidentsApi(PermissionsByMethod):
    permission_classes = [OPERATOR_OR_OFFICER]
    permissions_by_method = {"POST": [OPERATOR]}

    @extend_schema(responses=IncidentOut(many=True))
    def get(self, request):
        return paginated_response(
            queryset=selectors.incidents_for(user=request.user),
            request=request,
            view=self,
            serialize=lambda page: IncidentOut(page, many=True).data,
        )

    @extend_schema(request=IncidentCreateIn, responses={201: IncidentOut})
    def post(self, request):
        data = IncidentCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        incident = services.incident_create(
            actor=request.user,
            context=AuditContext.of(request),
            title=v["title"],
            lat=v["location"]["lat"],
            lon=v["location"]["lon"],
            radius_m=v.get("radius_m"),
            case_number=v["case_number"],
        )
        incident = selectors.incident_get(user=request.user, incident_id=incident.pk)
        return Response(IncidentOut(incident).data, status=status.HTTP_201_CREATED)


class IncidentApi(APIView):
    permission_classes = [OPERATOR_OR_OFFICER]

    @extend_schema(responses=IncidentOut)
    def get(self, request, incident_id):
        return Response(IncidentOut(selectors.incident_get(user=request.user, incident_id=incident_id)).data)


class IncidentOfficersApi(APIView):
    permission_classes = [OPERATOR]

    @extend_schema(request=OfficerIdsIn, responses=IncidentOut)
    def post(self, request, incident_id):
        incident = selectors.incident_get(user=request.user, incident_id=incident_id)
        data = OfficerIdsIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.incident_assign_officers(
            actor=request.user,
            context=AuditContext.of(request),
            incident=incident,
            officers=data.validated_data["officers"],
        )
        return Response(IncidentOut(selectors.incident_get(user=request.user, incident_id=incident_id)).data)


# Media -----------------------------------------------------------------------------------------


class MediaUploadApi(APIView):
    permission_classes = [OPERATOR]
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": MediaUploadIn}, responses={201: MediaOut})
    def post(self, request):
        data = MediaUploadIn(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        item = services.media_upload(actor=request.user, data=upload.read(), context=AuditContext.of(request))
        return Response(MediaOut(item, context={"request": request}).data, status=status.HTTP_201_CREATED)


def _stream(key: str, size: int) -> StreamingHttpResponse:
    response = StreamingHttpResponse(started(key), content_type="image/jpeg")
    response["Content-Length"] = str(size)
    response["X-Content-Type-Options"] = "nosniff"
    return response


class MediaImageApi(APIView):
    """The bounded-size image, for people (operators, officers) and officers' phones with a token."""

    permission_classes = [IsReader]

    @extend_schema(responses={(200, "image/jpeg"): bytes})
    def get(self, request, media_id):
        item = selectors.media_get(media_id=media_id, user=request.user)
        response = _stream(item.image_key, item.image_size)
        response["Cache-Control"] = "private, max-age=3600"
        return response


class MediaThumbnailApi(APIView):
    """The notification image. Phones fetch it with no credential, so a valid `sig` (from the
    signed link in the media and briefing answers) is enough; otherwise a reader's token is."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[OpenApiParameter("sig", str)], responses={(200, "image/jpeg"): bytes})
    def get(self, request, media_id):
        signature = request.query_params.get("sig")
        if signature is not None:
            if not media.thumbnail_signature_ok(media_id, signature):
                raise PermissionDenied("This link is not valid or has expired.")
        elif not request.user or not request.user.is_authenticated:
            raise NotAuthenticated()
        elif not IsReader().has_permission(request, self):
            raise PermissionDenied("Your role does not allow this.")
        item = selectors.media_get(media_id=media_id, user=None if signature is not None else request.user)
        response = _stream(item.thumbnail_key, item.thumbnail_size)
        response["Cache-Control"] = "private, max-age=86400"
        return response


class MediaApi(APIView):
    permission_classes = [IsReader]

    @extend_schema(responses=MediaOut)
    def get(self, request, media_id):
        item = selectors.media_get(media_id=media_id, user=request.user)
        return Response(MediaOut(item, context={"request": request}).data)


# Briefings -------------------------------------------------------------------------------------


def _incident_for(request, incident_id):
    if incident_id is None:
        return None
    from .models import Incident

    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None:
        raise InvalidInput("No such incident.", fields={"incident": [f"Unknown incident id: {incident_id}."]})
    return incident


def _list_context(request, page) -> dict:
    """As a briefing read alone: an operator's list names each briefing's origin (a lead, a hit)
    and counts its deliveries by state; an officer's (or phone's) gives their own delivery's state
    and acknowledgement instead (section 11.3)."""
    context: dict = {"request": request}
    ids = [briefing.pk for briefing in page]
    if is_person(request.user) and request.user.has_role(Role.OPERATOR):
        context["origins"] = origins_of(ids)
        context["counts"] = selectors.briefings_counts(briefing_ids=ids)
    else:
        officer_id = _officer_id(request.user)
        context["mine"] = selectors.my_deliveries(officer_id=officer_id, briefing_ids=ids)
        context["reader_officer"] = officer_id
    return context


class BriefingsApi(PermissionsByMethod):
    permission_classes = [IsReader]
    permissions_by_method = {"POST": [OPERATOR]}

    @extend_schema(responses=BriefingOut(many=True))
    def get(self, request):
        return paginated_response(
            queryset=selectors.my_briefings(user=request.user),
            request=request,
            view=self,
            serialize=lambda page: BriefingOut(page, many=True, context=_list_context(request, page)).data,
        )

    @extend_schema(request=BriefingCreateIn, responses={201: BriefingOut})
    def post(self, request):
        data = BriefingCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        briefing = services.briefing_create(
            actor=request.user,
            context=AuditContext.of(request),
            priority=v["priority"],
            title=v["title"],
            body=v["body"],
            suspects=v["suspects"],
            vehicles=v["vehicles"],
            audience=v["audience"],
            incident=_incident_for(request, v.get("incident")),
            base_url=conf.public_base_url() or request.build_absolute_uri("/"),
        )
        counts = {briefing.pk: selectors.briefing_counts(briefing=briefing)}
        out = BriefingOut(briefing, context={"request": request, "counts": counts}).data
        return Response(out, status=status.HTTP_201_CREATED)


class BriefingPreviewApi(APIView):
    """How many officers (and phones) an audience reaches, before sending."""

    permission_classes = [OPERATOR]

    @extend_schema(request=BriefingAudienceIn, responses=dict)
    def post(self, request):
        data = BriefingAudienceIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return Response(
            selectors.audience_preview(audience=v["audience"], incident=_incident_for(request, v.get("incident")))
        )


class BriefingApi(APIView):
    permission_classes = [IsReader]

    @extend_schema(responses=BriefingOut)
    def get(self, request, briefing_id):
        briefing = selectors.briefing_get(user=request.user, briefing_id=briefing_id)
        context = {"request": request}
        if is_person(request.user) and request.user.has_role(Role.OPERATOR):
            context["counts"] = {briefing.pk: selectors.briefing_counts(briefing=briefing)}
            context["origins"] = origins_of([briefing.pk])
        else:
            context["mine"] = selectors.my_deliveries(officer_id=_officer_id(request.user), briefing_ids=[briefing.pk])
            context["reader_officer"] = _officer_id(request.user)
        return Response(BriefingOut(briefing, context=context).data)


class BriefingDeliveriesApi(APIView):
    permission_classes = [IsReader]

    @extend_schema(responses=DeliveryOut(many=True))
    def get(self, request, briefing_id):
        briefing = selectors.briefing_get(user=request.user, briefing_id=briefing_id)
        return paginated_response(
            queryset=selectors.deliveries_for(user=request.user, briefing=briefing),
            request=request,
            view=self,
            serialize=lambda page: DeliveryOut(page, many=True).data,
        )


class BriefingAckApi(APIView):
    """The recipient has read it (idempotent); anyone else gets 404."""

    permission_classes = [IsOfficerOrPhone]

    @extend_schema(request=None, responses=dict)
    def post(self, request, briefing_id):
        briefing = selectors.briefing_get(user=request.user, briefing_id=briefing_id)
        row = services.briefing_acknowledge(
            briefing=briefing,
            officer_id=_officer_id(request.user),
            actor=request.user,
            context=AuditContext.of(request),
        )
        return Response({"briefing": str(briefing.pk), "state": "acknowledged", "acknowledged_at": row.acknowledged_at})


class MyBriefingsApi(APIView):
    """The officer's own briefings, newest first (the officer phone page reads this)."""

    permission_classes = [IsOfficerOrPhone]

    @extend_schema(responses=BriefingOut(many=True))
    def get(self, request):
        def serialize(page):
            mine = selectors.my_deliveries(officer_id=_officer_id(request.user), briefing_ids=[b.pk for b in page])
            context = {"request": request, "mine": mine, "reader_officer": _officer_id(request.user)}
            return BriefingOut(page, many=True, context=context).data

        return paginated_response(
            queryset=selectors.my_briefings(user=request.user), request=request, view=self, serialize=serialize
        )


def _while_held(row: dict, since: datetime | None, until: datetime | None) -> bool:
    """Whether an outbox row was sent within [since, until) (None: no bound)."""
    at = parse_datetime(row["at"])
    assert at is not None  # the outbox writes an aware ISO time
    return (since is None or at >= since) and (until is None or at < until)


class MyOutboxApi(APIView):
    """Embedded default: the pushes the local outbox holds for the caller's phones (demo phone page)."""

    permission_classes = [IsOfficerOrPhone]

    @extend_schema(responses=dict)
    def get(self, request):
        refuse_unknown_params(request.query_params, (), NOT_A_PARAMETER, paged=False)
        backend = push.get_backend()
        if not isinstance(backend, push.OutboxBackend):
            raise NotFound("Pushes go to FCM here; there is no local outbox.")
        if isinstance(request.user, Device):
            held = phones_held(phone=request.user)
        else:
            held = phones_held(officer=request.user)
        # Each push names the phone it went to: an officer with two phones gets (and sees) two. Only
        # what a phone got while this officer held it: a phone handed on keeps its pushes from its
        # next holder (and they stay its former holder's).
        rows = [
            {**row, "phone": phone.label or phone.serial}
            for phone, since, until in held
            if phone.push_token
            for row in backend.read(token=phone.push_token)
            if _while_held(row, since, until)
        ]
        rows.sort(key=lambda row: row["at"], reverse=True)
        return Response({"results": rows[:50]})
