"""The clips API for people (PROTOCOL.md "Clips"): search, read, patch, access links, legal hold,
custody, categories and case manifests."""

from __future__ import annotations

import csv
import io
import re
import urllib.parse

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import HasRole, IsClerk, IsPerson, PermissionsByMethod
from apps.audit.context import AuditContext
from apps.core.errors import Forbidden, InvalidInput
from apps.core.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictRegexField,
    StrictSlugField,
)
from apps.core.filters import (
    CommaSeparatedField,
    NumberParamField,
    QueryFilterIn,
    TimeParamField,
    TrueFalseField,
    finite_number,
    refuse_unknown_params,
)
from apps.core.pagination import CappedCountPagination, paginated_response

from .. import conf
from ..models import ClipState, Trigger
from ..serializers import CategoryOut, ClipOut
from . import selectors as records_selectors
from . import services as records
from .selectors import clip_get, may_access_bytes

# Output ----------------------------------------------------------------------------------------


class ClipRecordOut(ClipOut):
    """The contract's clip plus what a records clerk reads on it (recording, verification, tombstone)."""

    class Meta(ClipOut.Meta):
        fields = [
            *ClipOut.Meta.fields,
            "recording_id",
            "content_type",
            "created_at",
            "verified_at",
            "purged_at",
            "purged_by",
            "purge_reason",
        ]


AccessOut = inline_serializer(
    "ClipAccessOut",
    {
        "url": serializers.URLField(),
        "expires_at": serializers.DateTimeField(),
        "filename": StrictCharField(),
        "sha256": StrictCharField(),
        "size_bytes": StrictIntegerField(),
    },
)

CustodyRowOut = inline_serializer(
    "ClipCustodyEvent",
    {
        "at": serializers.DateTimeField(),
        "actor": StrictCharField(allow_null=True),
        "action": StrictCharField(),
        "detail": serializers.DictField(),
        "actor_type": StrictCharField(),
        "actor_label": StrictCharField(),
        "outcome": StrictCharField(),
        "source_ip": StrictCharField(allow_null=True),
        "seq": StrictIntegerField(),
        "verified": StrictBooleanField(),
    },
)

CustodyPageOut = inline_serializer(
    "ClipCustodyPage",
    {
        "count": StrictIntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "chain_intact": StrictBooleanField(),
        "results": serializers.ListField(child=CustodyRowOut),
    },
)


def custody_row(row: records_selectors.CustodyEvent) -> dict:
    event = row.event
    return {
        "at": event.at,
        "actor": event.actor_id or None,
        "action": event.action,
        "detail": event.details,
        "actor_type": event.actor_type,
        "actor_label": event.actor_label,
        "outcome": event.outcome,
        "source_ip": event.source_ip,
        "seq": event.seq,
        "verified": row.verified,
    }


# Input -----------------------------------------------------------------------------------------


class ReasonIn(serializers.Serializer):
    reason = StrictCharField(max_length=500, trim_whitespace=True, allow_blank=False)


class ClipPatchIn(serializers.Serializer):
    category = StrictSlugField(max_length=64, required=False)
    # no control characters: the case's manifest is read at /cases/{case_number}/manifest
    case_number = StrictRegexField(
        r"^[^\x00-\x1f\x7f]*\Z",
        max_length=64,
        required=False,
        allow_blank=True,
        allow_null=True,
        error_messages={"invalid": "A case number has no control characters."},
    )
    incident = serializers.UUIDField(required=False, allow_null=True)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError(
                {name: ["Not a field a clerk can change here (category, case_number, incident)."] for name in unknown}
            )
        return attrs


class CategoryIn(serializers.Serializer):
    slug = StrictRegexField(
        r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$",
        max_length=64,
        error_messages={
            "invalid": "Use lower-case letters, digits, and single - or _ between them, e.g. traffic-stop."
        },
    )
    name = StrictCharField(max_length=128, required=False, allow_blank=True)
    retention_days = StrictIntegerField(min_value=1, max_value=36_525, required=False, allow_null=True)


class ClipSearchIn(QueryFilterIn):
    """GET /clips's filters; a blank one is not given, an unknown or unusable one is a 400 naming it.
    Its validated data is what `selectors.clip_search` takes: ids, category ids, lists, times, a Near."""

    officer = serializers.UUIDField(required=False, error_messages={"invalid": "Must be an id (a UUID)."})
    device = serializers.UUIDField(required=False, error_messages={"invalid": "Must be an id (a UUID)."})
    incident = serializers.UUIDField(required=False, error_messages={"invalid": "Must be an id (a UUID)."})
    case_number = StrictCharField(max_length=64, required=False)
    category = CommaSeparatedField(required=False, help_text="A category slug (comma-separated for several).")
    trigger = CommaSeparatedField(
        choices=Trigger.values, required=False, help_text="manual, remote or auto (comma-separated for several)."
    )
    state = CommaSeparatedField(
        choices=ClipState.values,
        required=False,
        help_text="uploading, verifying, available, corrupt, aborted, purged (comma-separated for several).",
    )
    from_ = TimeParamField(required=False, help_text="Clips recorded (overlapping) from this time.")
    to = TimeParamField(required=False, help_text="Clips recorded (overlapping) up to this time.")
    near = StrictCharField(required=False, help_text="lat,lon,radius_m: clips recorded within radius_m metres.")
    lat = NumberParamField(required=False, help_text="With lon and radius_m: another way to say near.")
    lon = NumberParamField(required=False)
    radius_m = NumberParamField(required=False)
    legal_hold = TrueFalseField(required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # a Python keyword, so declared under another name
        return fields

    def validate_category(self, slugs: list[str]) -> list[int]:
        found = records_selectors.category_ids(slugs=slugs)
        missing = [slug for slug in slugs if slug not in found]
        if missing:
            raise serializers.ValidationError(f"No category {missing[0]!r}; see GET /api/v1/categories.")
        return [found[slug] for slug in slugs]

    def validate(self, attrs: dict) -> dict:
        if "from" in attrs and "to" in attrs and attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"to": ["Must not be before from."]})
        near = self._near(attrs.pop("near", None), *(attrs.pop(k, None) for k in ("lat", "lon", "radius_m")))
        if near is not None:
            attrs["near"] = near
        return attrs

    @staticmethod
    def _near(near, lat, lon, radius) -> records_selectors.Near | None:
        """`near=lat,lon,radius_m`, or the three as parameters of their own (errors named as given)."""
        if near is not None:
            if lat is not None or lon is not None or radius is not None:
                raise serializers.ValidationError(
                    {"near": ["Give either near=lat,lon,radius_m or lat, lon and radius_m, not both."]}
                )
            parts = [p.strip() for p in near.split(",")]
            if len(parts) != 3:
                raise serializers.ValidationError(
                    {"near": ["Must be lat,lon,radius_m, e.g. near=40.7128,-74.0060,500."]}
                )
            lat, lon, radius = parts
            names = ("near", "near", "near")
        else:
            if lat is None and lon is None and radius is None:
                return None
            missing = [k for k, v in (("lat", lat), ("lon", lon), ("radius_m", radius)) if v is None]
            if missing:
                raise serializers.ValidationError(
                    {k: ["Required with the other two of lat, lon, radius_m."] for k in missing}
                )
            names = ("lat", "lon", "radius_m")
        bounds = ((-90, 90), (-180, 180), (0, conf.search_max_radius_m()))
        values = []
        for name, value, (low, high) in zip(names, (lat, lon, radius), bounds, strict=True):
            try:
                values.append(finite_number(value, low=low, high=high))
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({name: exc.detail}) from None
        if values[2] <= 0:
            raise serializers.ValidationError({names[2]: ["Must be more than 0 metres."]})
        return records_selectors.Near(*values)


class CaseManifestIn(QueryFilterIn):
    """GET /cases/{case_number}/manifest's parameters: why (required) and in which form."""

    passthrough = frozenset()
    unknown_message = "Not a parameter of the manifest."

    reason = StrictCharField(max_length=500)
    format = serializers.ChoiceField(
        choices=["json", "csv", "sha256"],
        default="json",
        error_messages={"invalid_choice": "Must be json, csv or sha256."},
    )


# Permissions -----------------------------------------------------------------------------------


def _reason(request) -> str:
    data = request.data if isinstance(request.data, dict) and request.data else {}
    if not data and request.query_params.get("reason"):  # a DELETE some clients cannot give a body
        data = {"reason": request.query_params["reason"]}
    body = ReasonIn(data=data)
    body.is_valid(raise_exception=True)
    return body.validated_data["reason"]


def _absolute(request, url: str) -> str:
    return request.build_absolute_uri(url) if url.startswith("/") else url


# Search ----------------------------------------------------------------------------------------


class ClipSearchPagination(CappedCountPagination):
    """The contract's page of a search: counted up to a cap, over started_at (every clip index's
    second column), past which `count` is the planner's estimate and `count_exact` is false."""

    count_column = "started_at"

    def count_cap(self) -> int:
        return conf.search_count_cap()


def clip_search(request, *, view) -> Response:
    """GET /clips (people, IsPerson): footage search; served by apps.footage.apis.ClipsApi, whose
    POST is a device declaring a clip."""
    records_selectors.visible_clips(user=request.user)  # IT: 403 before anything else
    filters = ClipSearchIn(data=request.query_params)
    filters.is_valid(raise_exception=True)
    clips = records_selectors.clip_search(user=request.user, filters=filters.validated_data)
    return paginated_response(
        queryset=clips,
        request=request,
        view=view,
        serialize=lambda page: ClipRecordOut(page, many=True).data,
        pagination_class=ClipSearchPagination,
    )


class ClipDetailApi(PermissionsByMethod):
    permission_classes = [IsPerson]
    permissions_by_method = {"PATCH": [IsClerk]}

    @extend_schema(responses=ClipRecordOut)
    def get(self, request, clip_id):
        return Response(ClipRecordOut(clip_get(user=request.user, clip_id=clip_id)).data)

    @extend_schema(request=ClipPatchIn, responses=ClipRecordOut)
    def patch(self, request, clip_id):
        clip = clip_get(user=request.user, clip_id=clip_id)
        body = ClipPatchIn(data=request.data)
        body.is_valid(raise_exception=True)
        clip = records.clip_update(
            clip=clip, actor=request.user, changes=body.validated_data, context=AuditContext.of(request)
        )
        return Response(ClipRecordOut(clip).data)


class ClipAccessApi(APIView):
    permission_classes = [HasRole("clerk", "officer")]

    @extend_schema(request=ReasonIn, responses=AccessOut)
    def post(self, request, clip_id):
        clip = clip_get(user=request.user, clip_id=clip_id)
        if not may_access_bytes(user=request.user, clip=clip):
            raise Forbidden("You may not retrieve this clip.")
        reason = _reason(request)
        link = records.clip_access_link(clip=clip, actor=request.user, reason=reason, context=AuditContext.of(request))
        link["url"] = _absolute(request, link["url"])
        return Response(link)


class ClipHoldApi(APIView):
    permission_classes = [IsClerk]

    @extend_schema(request=ReasonIn, responses=ClipRecordOut)
    def post(self, request, clip_id):
        clip = clip_get(user=request.user, clip_id=clip_id)
        clip = records.clip_set_hold(
            clip=clip, actor=request.user, on=True, reason=_reason(request), context=AuditContext.of(request)
        )
        return Response(ClipRecordOut(clip).data)

    @extend_schema(request=ReasonIn, responses=ClipRecordOut)
    def delete(self, request, clip_id):
        clip = clip_get(user=request.user, clip_id=clip_id)
        clip = records.clip_set_hold(
            clip=clip, actor=request.user, on=False, reason=_reason(request), context=AuditContext.of(request)
        )
        return Response(ClipRecordOut(clip).data)


class ClipCustodyApi(APIView):
    permission_classes = [IsClerk]

    @extend_schema(responses=CustodyPageOut)
    def get(self, request, clip_id):
        clip = clip_get(user=request.user, clip_id=clip_id)
        rows, intact = records_selectors.clip_custody(clip=clip)
        response = paginated_response(
            queryset=rows, request=request, view=self, serialize=lambda page: [custody_row(row) for row in page]
        )
        response.data["chain_intact"] = intact
        return response


class ClipPurgeApi(APIView):
    """Extension: a clerk purges a clip's bytes by hand once its retention has passed, e.g. a corrupt
    clip after review (`{"reason", "reviewed": true}`). The periodic purge never touches corrupt clips."""

    permission_classes = [IsClerk]

    @extend_schema(
        request=inline_serializer("ClipPurgeIn", {"reason": StrictCharField(), "reviewed": StrictBooleanField()}),
        responses=ClipRecordOut,
    )
    def post(self, request, clip_id):
        clip = clip_get(user=request.user, clip_id=clip_id)
        reason = _reason(request)
        reviewed = request.data.get("reviewed", False) if isinstance(request.data, dict) else False
        if not isinstance(reviewed, bool):
            raise InvalidInput("reviewed: Must be true or false.", fields={"reviewed": ["Must be true or false."]})
        clip = records.clip_purge(
            clip_id=clip.pk, actor=request.user, reason=reason, reviewed=reviewed, context=AuditContext.of(request)
        )
        return Response(ClipRecordOut(clip).data)


class CategoriesApi(PermissionsByMethod):
    permission_classes = [IsPerson]
    permissions_by_method = {"POST": [IsClerk]}

    @extend_schema(responses=CategoryOut(many=True))
    def get(self, request):
        # Paginated as every list of the contract is ("every list in this contract ... is paginated
        # this way"); its `[{...}]` shows the items, as it does for deliveries and custody.
        refuse_unknown_params(request.query_params, (), "Not a parameter of this list.")
        return paginated_response(
            queryset=records_selectors.categories(),
            request=request,
            view=self,
            serialize=lambda page: CategoryOut(page, many=True).data,
        )

    @extend_schema(request=CategoryIn, responses={201: CategoryOut})
    def post(self, request):
        body = CategoryIn(data=request.data)
        body.is_valid(raise_exception=True)
        category = records.category_create(actor=request.user, context=AuditContext.of(request), **body.validated_data)
        return Response(CategoryOut(category).data, status=status.HTTP_201_CREATED)


# Case manifest ---------------------------------------------------------------------------------

MANIFEST_COLUMNS = [
    "id",
    "filename",
    "started_at",
    "ended_at",
    "duration_s",
    "officer",
    "officer_name",
    "officer_badge",
    "device",
    "device_serial",
    "category",
    "state",
    "size_bytes",
    "sha256",
    "content_type",
    "url",
    "expires_at",
]


def _text(value) -> str:
    """A CSV cell. Text a spreadsheet would run as a formula (a name typed as `=HYPERLINK(...)`)
    is prefixed with an apostrophe (OWASP's advice for CSV injection); hashes, ids, times and
    numbers never start so."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    return "'" + text if text[:1] in _FORMULA_STARTS and not isinstance(value, int | float) else text


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


CaseManifestOut = inline_serializer(
    "CaseManifestOut",
    {
        "case_number": serializers.CharField(),
        "generated_at": serializers.DateTimeField(),
        "generated_by": serializers.CharField(),
        "reason": serializers.CharField(),
        "count": serializers.IntegerField(),
        "sha256sum": serializers.CharField(help_text="The `sha256sum -c` listing of the clips with a link."),
        "clips": serializers.ListField(
            child=inline_serializer(
                "CaseManifestClip",
                {
                    "id": serializers.UUIDField(),
                    "filename": serializers.CharField(),
                    "started_at": serializers.DateTimeField(),
                    "ended_at": serializers.DateTimeField(),
                    "duration_s": serializers.FloatField(),
                    "officer": serializers.UUIDField(allow_null=True),
                    "officer_name": serializers.CharField(),
                    "officer_badge": serializers.CharField(),
                    "device": serializers.UUIDField(allow_null=True),
                    "device_serial": serializers.CharField(),
                    "category": serializers.CharField(),
                    "state": serializers.CharField(),
                    "size_bytes": serializers.IntegerField(),
                    "sha256": serializers.CharField(),
                    "content_type": serializers.CharField(),
                    "url": serializers.URLField(allow_null=True, help_text="None for a clip that is not available"),
                    "expires_at": serializers.DateTimeField(allow_null=True),
                },
            )
        ),
    },
)


class OwnFormatParameter(DefaultContentNegotiation):
    """`?format=` is the manifest's own parameter here, not DRF's renderer override."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _attachment(case_number: str, suffix: str) -> str:
    """A download's Content-Disposition named after its case: the case number as written
    (RFC 6266 `filename*`, UTF-8; a slash or control character made `_`), and an ASCII name
    for clients that read only `filename` (two cases written in other scripts would otherwise
    download under one name)."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", case_number)[:64]
    full = re.sub(r"[/\\\x00-\x1f\x7f]", "_", case_number)[:64]
    return (
        f'attachment; filename="case-{ascii_name}{suffix}"; '
        f"filename*=UTF-8''{urllib.parse.quote(f'case-{full}{suffix}', safe='')}"
    )


class CaseManifestApi(APIView):
    """GET /api/v1/cases/{case_number}/manifest?reason=...&format=json|csv|sha256 (clerk).

    Every clip filed under the case with its SHA-256 and a short-lived link; `format=sha256` is the
    `sha256sum -c` listing ("<hash>  <filename>") for the files as the links name them.
    """

    permission_classes = [IsClerk]
    content_negotiation_class = OwnFormatParameter

    @extend_schema(
        parameters=[CaseManifestIn],
        responses={
            (200, "application/json"): CaseManifestOut,
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "text/plain"): OpenApiTypes.STR,
        },
    )
    def get(self, request, case_number):
        params = CaseManifestIn(data=request.query_params)
        params.is_valid(raise_exception=True)
        kind = params.validated_data["format"]
        clips = records_selectors.case_clips(case_number=case_number)
        manifest = records.case_manifest(
            clips=clips,
            actor=request.user,
            reason=params.validated_data["reason"],
            case_number=case_number,
            context=AuditContext.of(request),
        )
        for entry in manifest["clips"]:
            if entry["url"]:
                entry["url"] = _absolute(request, entry["url"])
        # the files one can download: a clip with no link (purged, not yet verified) is not listed,
        # or `sha256sum -c` would fail on a file nobody could have
        listing = "".join(f"{e['sha256']}  {e['filename']}\n" for e in manifest["clips"] if e["url"])
        if kind == "sha256":
            response = HttpResponse(listing, content_type="text/plain; charset=utf-8")
            response["Content-Disposition"] = _attachment(case_number, ".sha256")
            return response
        if kind == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(MANIFEST_COLUMNS)
            for entry in manifest["clips"]:
                writer.writerow([_text(entry[c]) for c in MANIFEST_COLUMNS])
            response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = _attachment(case_number, "-manifest.csv")
            return response
        manifest["sha256sum"] = listing
        return Response(manifest)
