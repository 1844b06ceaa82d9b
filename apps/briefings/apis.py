"""The briefings API: incidents, media, briefings, deliveries, acknowledgements."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Role
from apps.accounts.permissions import HasRole
from apps.core.pagination import StandardPagination

from . import selectors, services
from .serializers import IncidentCreateIn, IncidentOut, OfficerIdsIn

OPERATOR = HasRole(Role.OPERATOR)
OPERATOR_OR_OFFICER = HasRole(Role.OPERATOR, Role.OFFICER)


def _composer_only(request) -> None:
    if not OPERATOR().has_permission(request, None):
        from rest_framework.exceptions import PermissionDenied

        raise PermissionDenied("Only operators may do this.")


class IncidentsApi(APIView):
    permission_classes = [OPERATOR_OR_OFFICER]

    @extend_schema(responses=IncidentOut(many=True))
    def get(self, request):
        paginator = StandardPagination()
        page = paginator.paginate_queryset(selectors.incidents_for(user=request.user), request, view=self)
        return paginator.get_paginated_response(IncidentOut(page, many=True).data)

    @extend_schema(request=IncidentCreateIn, responses={201: IncidentOut})
    def post(self, request):
        _composer_only(request)
        data = IncidentCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        incident = services.incident_create(actor=request.user, request=request, title=v["title"],
                                            lat=v["location"]["lat"], lon=v["location"]["lon"],
                                            radius_m=v.get("radius_m"), case_number=v["case_number"])
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
        services.incident_assign_officers(actor=request.user, request=request, incident=incident,
                                          officers=data.validated_data["officers"])
        return Response(IncidentOut(selectors.incident_get(user=request.user, incident_id=incident_id)).data)
