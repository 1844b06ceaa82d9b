"""The live view API: operators open, watch and stop live sessions; cameras PUT segments."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import token_for_bearer
from apps.accounts.permissions import CanWatchLive
from apps.accounts.tokens import bearer_from_header
from apps.audit.context import AuditContext
from apps.core.errors import NotFound, application_error_response, error_response
from apps.core.pagination import paginated_response
from apps.devices.models import Device
from apps.devices.permissions import IsDevice
from apps.integrations.storage import ObjectMissingError, StorageUnavailableError

from . import conf, index, playlist, selectors, services
from .serializers import LiveFilterIn, LiveOut, LiveRequestIn, SegmentOut, live_data


def base_url(request) -> str:
    """Where cameras and players reach rtcc: RTCC_PUBLIC_URL, else the host this request came to."""
    return settings.RTCC_PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


def _device(device_id) -> Device:
    device = Device.objects.filter(pk=device_id).first()
    if device is None:
        raise NotFound("No such device.")
    return device


def _page(view, request, sessions):
    return paginated_response(
        queryset=sessions,
        request=request,
        view=view,
        serialize=lambda page: [live_data(session) for session in page],
    )


class DeviceLiveApi(APIView):
    permission_classes = [CanWatchLive]

    @extend_schema(request=LiveRequestIn, responses={201: LiveOut, 200: LiveOut})
    def post(self, request, device_id):
        device = _device(device_id)
        data = LiveRequestIn(data=request.data)
        data.is_valid(raise_exception=True)
        session, created = services.live_request(
            device=device,
            user=request.user,
            reason=data.validated_data["reason"],
            base_url=base_url(request),
            context=AuditContext.of(request),
        )
        return Response(live_data(session), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(responses=LiveOut(many=True))
    def get(self, request, device_id):
        device = _device(device_id)
        services.live_end_due()
        return _page(self, request, selectors.live_list(filters={"device": device.pk}))


class LiveListApi(APIView):
    permission_classes = [CanWatchLive]
    list_filters = LiveFilterIn

    @extend_schema(parameters=[LiveFilterIn], responses=LiveOut(many=True))
    def get(self, request):
        filters = LiveFilterIn(data=request.query_params)
        filters.is_valid(raise_exception=True)
        services.live_end_due()
        return _page(self, request, selectors.live_list(filters=filters.validated_data))


class LiveApi(APIView):
    permission_classes = [CanWatchLive]

    @extend_schema(responses=LiveOut)
    def get(self, request, live_id):
        session = services.live_end_if_due(session=selectors.live_get(session_id=live_id))
        return Response(live_data(session))


class LiveStopApi(APIView):
    permission_classes = [CanWatchLive]

    @extend_schema(request=None, responses=LiveOut)
    def post(self, request, live_id):
        session = services.live_stop(
            session=selectors.live_get(session_id=live_id), user=request.user, context=AuditContext.of(request)
        )
        return Response(live_data(session))


class LivePlaylistApi(APIView):
    permission_classes = [CanWatchLive]

    @extend_schema(responses={(200, playlist.CONTENT_TYPE): OpenApiResponse(description="HLS media playlist")})
    def get(self, request, live_id):
        snapshot = index.read(live_id, count=conf.playlist_segments())
        if snapshot is not None and not (snapshot[0].is_open and snapshot[0].expires_at <= timezone.now()):
            session, has_init, segments = snapshot
        else:
            session = services.live_end_if_due(session=selectors.live_get(session_id=live_id))
            init, segments = selectors.playlist_segments(session_id=session.pk)
            index.fill(session=session, init=init, segments=segments)
            has_init = init is not None
        services.live_viewer_seen(session=session, user=request.user, context=AuditContext.of(request))
        text = playlist.render(
            session=session, has_init=has_init, segments=segments, base_url=base_url(request), user_id=request.user.pk
        )
        response = HttpResponse(text, content_type=playlist.CONTENT_TYPE)
        response["Cache-Control"] = "no-store"
        return response


class LiveSegmentApi(APIView):
    """The camera's PUT of one segment (its device token): 201 stored, 200 already stored."""

    permission_classes = [IsDevice]
    raw_body = True  # the segment's bytes, read here (apps.core.parsers.BodyReadFirst leaves them)

    @extend_schema(
        request={"video/mp4": bytes},
        responses={201: SegmentOut, 200: SegmentOut},
        parameters=[
            OpenApiParameter(
                "X-Segment-Duration",
                str,
                OpenApiParameter.HEADER,
                description="The segment's length in decimal seconds (media segments; not init.mp4).",
            )
        ],
    )
    def put(self, request, live_id, name):
        session = selectors.live_get(session_id=live_id)
        if session.device_id != request.user.pk:
            raise NotFound("No such live session.")
        data = request._request.read(conf.MAX_SEGMENT_BYTES + 1)
        segment, created = services.segment_store(
            session=session,
            device=request.user,
            name=name,
            data=data,
            duration_header=request.headers.get("X-Segment-Duration"),
        )
        return Response(
            services.segment_data(segment), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


_segment_put = LiveSegmentApi.as_view()


def _requester(request) -> str | None:
    """Who a segment request says it is: None (no credentials, the usual case for a player), a
    person's id, or "" (credentials that are not a usable person's)."""
    header = request.headers.get("Authorization")
    if header:
        record = token_for_bearer(bearer_from_header(header) or "")
        return str(record.user_id) if record is not None else ""
    if settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
        return str(request.user.pk)
    return None


def segment_get(request, live_id, name: str):
    """A segment's bytes for the viewer named in the signed link (the link is the credential)."""
    grant = playlist.read_segment_token(request.GET.get("token", ""))
    if grant is None or grant["session"] != str(live_id) or grant["name"] != name:
        return error_response(403, "invalid_or_expired_url", "This segment link is not valid or has expired.")
    who = _requester(request)
    if who is not None and who != grant["user"]:
        return error_response(403, "not_your_link", "This segment link was given to another viewer.")
    try:
        data = services.segment_bytes(session_id=live_id, name=name)
    except ObjectMissingError:
        return error_response(404, "segment_gone", "This segment is no longer stored.")
    except StorageUnavailableError as exc:
        return application_error_response(exc)
    response = HttpResponse(data, content_type=services.CONTENT_TYPES[name[-3:]])
    response["Cache-Control"] = f"private, max-age={conf.link_seconds()}"
    return response


@csrf_exempt
def segment(request, live_id, name: str):
    """GET: a viewer's signed link; PUT: the camera's upload. One URL per segment."""
    if request.method in ("GET", "HEAD"):
        return segment_get(request, live_id, name)
    if request.method != "PUT":
        response = error_response(405, "method_not_allowed", "PUT a segment's bytes, or GET it with a signed link.")
        response["Allow"] = "GET, PUT"
        return response
    return _segment_put(request, live_id=live_id, name=name)


# The OpenAPI schema describes this URL by the camera's PUT (LiveSegmentApi), as it would a view
# of that class: drf-spectacular lists the views that carry their class.
segment.cls = LiveSegmentApi  # type: ignore[attr-defined]
segment.initkwargs = {}  # type: ignore[attr-defined]
