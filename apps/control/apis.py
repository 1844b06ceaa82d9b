"""The commands API: operators start and stop recording on a device; operators and IT follow it."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import CanCommand, CanReadCommands, PermissionsByMethod
from apps.audit.services import AuditContext
from apps.core.pagination import paginated_response

from . import selectors, services
from .serializers import CommandCreateIn, CommandFilterIn, CommandOut, command_data, idempotency_key_of

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Same key (per person and device) = the same command back.",
)


class DeviceCommandsApi(PermissionsByMethod):
    permission_classes = [CanReadCommands]
    permissions_by_method = {"POST": [CanCommand]}
    list_filters = CommandFilterIn

    @extend_schema(request=CommandCreateIn, responses={202: CommandOut}, parameters=[IDEMPOTENCY_HEADER])
    def post(self, request, device_id):
        device = selectors.device_get(device_id=device_id)
        key = idempotency_key_of(request.headers.get("Idempotency-Key"))
        data = CommandCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        command, created = services.command_create(
            device=device,
            requested_by=request.user,
            idempotency_key=key,
            context=AuditContext.of(request),
            **data.validated_data,
        )
        response = Response(command_data(command), status=status.HTTP_202_ACCEPTED)
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response

    @extend_schema(parameters=[CommandFilterIn], responses=CommandOut(many=True))
    def get(self, request, device_id):
        device = selectors.device_get(device_id=device_id)
        filters = CommandFilterIn(data=request.query_params)
        filters.is_valid(raise_exception=True)
        now = timezone.now()

        def serialize(page):
            services.commands_expire_soon(command_ids=[c.pk for c in page if selectors.expiry_due(c, now=now)])
            return [command_data(selectors.command_as_read(command, now=now)) for command in page]

        return paginated_response(
            queryset=selectors.device_commands(device=device, state=filters.validated_data.get("state"), now=now),
            request=request,
            view=self,
            serialize=serialize,
        )


class CommandApi(APIView):
    permission_classes = [CanReadCommands]

    @extend_schema(responses=CommandOut)
    def get(self, request, command_id):
        command = selectors.command_get(command_id=command_id)
        if selectors.expiry_due(command):
            services.commands_expire_soon(command_ids=[command.pk])
        return Response(command_data(selectors.command_as_read(command)))


class CommandCancelApi(APIView):
    permission_classes = [CanCommand]

    @extend_schema(request=None, responses={200: CommandOut})
    def post(self, request, command_id):
        command = selectors.command_get(command_id=command_id)
        command = services.command_cancel(command=command, user=request.user, context=AuditContext.of(request))
        return Response(command_data(command))
