"""The console's pages: each role lands on its own; the live data comes from the JSON API."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from . import selectors
from .access import LANDING, pages_for, role_of, role_required
from .qr import qr_svg

MAX_QR_DATA = 1024


def _page(request, template: str, *, active: str, **context):
    """Renders a console page with what every page needs: the role's navigation and who is in."""
    user = request.user
    context.update(
        active=active,
        nav=pages_for(user),
        role=role_of(user),
        me={"id": str(user.pk), "username": user.username, "full_name": user.full_name, "role": role_of(user)},
    )
    return render(request, template, context)


@require_GET
def home(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    role = role_of(request.user)
    landing = LANDING.get(role) if role else None
    if landing is None:
        raise PermissionDenied("No console page is open to your role.")
    return redirect(reverse(landing))


@require_GET
@role_required("officer")
def phone(request):
    return _page(request, "console/phone.html", active="console-phone")


@require_GET
@role_required("operator", "it")
def fleet(request):
    return _page(
        request,
        "console/fleet.html",
        active="console-fleet",
        officers=selectors.officer_directory(),
        can_command=role_of(request.user) == "operator",
        can_watch=role_of(request.user) == "operator",
    )


@require_GET
@role_required("operator")
def live_view(request, live_id):
    """The live viewer of one session (hls.js); the session itself is read from the API."""
    return _page(
        request,
        "console/live_view.html",
        active="console-fleet",
        live_id=str(live_id),
        officers=selectors.officer_directory(),
    )


@require_GET
@role_required("operator")
def map_view(request):
    return _page(
        request,
        "console/map.html",
        active="console-map",
        officers=selectors.officer_directory(),
        incidents=selectors.incident_directory(),
    )


@require_GET
@role_required("operator")
def incidents(request):
    return _page(
        request,
        "console/incidents.html",
        active="console-incidents",
        officers=selectors.officer_directory(),
        incidents=selectors.incident_directory(),
    )


@require_GET
@role_required("operator")
def briefing_new(request):
    return _page(
        request,
        "console/briefing_new.html",
        active="console-incidents",
        officers=selectors.officer_directory(),
        incidents=selectors.incident_directory(),
        incident_id=request.GET.get("incident", ""),
    )


@require_GET
@role_required("operator")
def briefing_board(request, briefing_id):
    return _page(
        request,
        "console/briefing_board.html",
        active="console-incidents",
        officers=selectors.officer_directory(),
        briefing_id=str(briefing_id),
    )


@require_GET
@role_required("clerk")
def footage(request):
    return _page(
        request,
        "console/footage.html",
        active="console-footage",
        officers=selectors.officer_directory(),
        devices=selectors.device_directory(),
        incidents=selectors.incident_directory(),
    )


@require_GET
@role_required("clerk")
def clip_detail(request, clip_id):
    return _page(
        request,
        "console/clip.html",
        active="console-footage",
        officers=selectors.officer_directory(),
        devices=selectors.device_directory(),
        incidents=selectors.incident_directory(),
        clip_id=str(clip_id),
    )


@require_GET
@role_required("it")
def devices(request):
    return _page(request, "console/devices.html", active="console-devices", officers=selectors.officer_directory())


@require_GET
@role_required("it")
def users(request):
    return _page(request, "console/users.html", active="console-users")


@require_POST
@role_required("it")
def qr(request):
    """An enrollment code as a QR code (SVG). POST, so that codes stay out of URLs and access logs."""
    data = request.POST.get("data", "")
    if not data or len(data) > MAX_QR_DATA:
        return HttpResponseBadRequest("data: 1 to 1024 characters", content_type="text/plain")
    response = HttpResponse(qr_svg(data), content_type="image/svg+xml")
    response["Cache-Control"] = "no-store"
    return response
