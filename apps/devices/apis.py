"""The devices API: registration and enrollment, assignment, revocation, the fleet list, and a
device's own endpoints (PROTOCOL.md "Devices")."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Role
from apps.accounts.permissions import HasRole, IsIT, PermissionsByMethod
from apps.audit.services import AuditContext
from apps.core.errors import NotFound
from apps.core.pagination import paginated_response

from . import presence, selectors, services
from .models import Device
from .permissions import IsDevice, IsPhone
from .serializers import (
    AssignIn,
    AssignmentOut,
    DeviceCreateIn,
    DeviceFilterIn,
    DeviceOut,
    DeviceRegisteredOut,
    EnrollIn,
    EnrollmentCodeOut,
    EnrollOut,
    PushTokenIn,
)


def _device_for_it(device_id) -> Device:
    device = Device.objects.filter(pk=device_id).first()
    if device is None:
        raise NotFound("No such device.")
    return device


def _out(device: Device) -> dict:
    presence.merge_live([device])
    return DeviceOut(device).data


class DevicesApi(PermissionsByMethod):
    permission_classes = [HasRole(Role.IT, Role.OPERATOR, Role.OFFICER)]
    list_filters = DeviceFilterIn
    permissions_by_method = {"POST": [IsIT]}

    @extend_schema(parameters=[DeviceFilterIn], responses=DeviceOut(many=True))
    def get(self, request):
        query = {name: value for name, value in request.query_params.items() if value != ""}
        filters = DeviceFilterIn(data=query)
        filters.is_valid(raise_exception=True)
        devices = selectors.device_list(user=request.user, filters=filters.validated_data)
        return paginated_response(
            queryset=devices,
            request=request,
            view=self,
            serialize=lambda page: DeviceOut(selectors.with_presence(page), many=True).data,
        )

    @extend_schema(request=DeviceCreateIn, responses={201: DeviceRegisteredOut})
    def post(self, request):
        data = DeviceCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        device, code = services.device_register(
            actor=request.user, context=AuditContext.of(request), **data.validated_data
        )
        presence.apply_live(device, None)
        return Response(
            DeviceRegisteredOut(device, context={"enrollment_code": code}).data, status=status.HTTP_201_CREATED
        )


class DeviceDetailApi(APIView):
    permission_classes = [HasRole(Role.IT, Role.OPERATOR, Role.OFFICER)]

    @extend_schema(responses=DeviceOut)
    def get(self, request, device_id):
        device = selectors.device_get(user=request.user, device_id=device_id)
        return Response(DeviceOut(device).data)


class EnrollmentCodeApi(APIView):
    permission_classes = [IsIT]

    @extend_schema(request=None, responses=EnrollmentCodeOut)
    def post(self, request, device_id):
        device = _device_for_it(device_id)
        code = services.enrollment_reissue(device=device, actor=request.user, context=AuditContext.of(request))
        device.refresh_from_db(fields=["enrollment_expires_at"])
        return Response(
            EnrollmentCodeOut({"enrollment_code": code, "enrollment_expires_at": device.enrollment_expires_at}).data
        )


class EnrollApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=EnrollIn, responses=EnrollOut, auth=[])
    def post(self, request):
        data = EnrollIn(data=request.data)
        data.is_valid(raise_exception=True)
        device, token = services.device_enroll(context=AuditContext.of(request), **data.validated_data)
        return Response(EnrollOut({"device_id": device.pk, "token": token, "kind": device.kind}).data)


class AssignApi(APIView):
    permission_classes = [IsIT]

    @extend_schema(request=AssignIn, responses=DeviceOut)
    def post(self, request, device_id):
        data = AssignIn(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.device_assign(
            device=_device_for_it(device_id),
            officer_id=data.validated_data["officer"],
            actor=request.user,
            context=AuditContext.of(request),
        )
        return Response(_out(device))


class UnassignApi(APIView):
    permission_classes = [IsIT]

    @extend_schema(request=None, responses=DeviceOut)
    def post(self, request, device_id):
        device = services.device_unassign(
            device=_device_for_it(device_id), actor=request.user, context=AuditContext.of(request)
        )
        return Response(_out(device))


class AssignmentsApi(APIView):
    """Extension: who had the device from when to when (IT, operators)."""

    permission_classes = [HasRole(Role.IT, Role.OPERATOR)]

    @extend_schema(responses=AssignmentOut(many=True))
    def get(self, request, device_id):
        device = _device_for_it(device_id)
        return paginated_response(
            queryset=selectors.assignment_history(device=device),
            request=request,
            view=self,
            serialize=lambda page: AssignmentOut(page, many=True).data,
        )


class RevokeApi(APIView):
    permission_classes = [IsIT]

    @extend_schema(request=None, responses=DeviceOut)
    def post(self, request, device_id):
        device = services.device_revoke(
            device=_device_for_it(device_id), actor=request.user, context=AuditContext.of(request)
        )
        return Response(_out(device))


class DeviceSelfApi(APIView):
    permission_classes = [IsDevice]

    @extend_schema(responses=DeviceOut)
    def get(self, request):
        return Response(DeviceOut(selectors.device_self(device=request.user)).data)


class PushTokenApi(APIView):
    permission_classes = [IsPhone]

    @extend_schema(request=PushTokenIn, responses=DeviceOut)
    def put(self, request):
        data = PushTokenIn(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.push_token_set(
            device=request.user, token=data.validated_data["token"], context=AuditContext.of(request)
        )
        return Response(_out(device))
