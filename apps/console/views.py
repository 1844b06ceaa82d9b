"""The console's pages: each role lands on its own; the live data comes from the JSON API."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.core.errors import ApplicationError
from apps.outcomes import charts as charts_svg
from apps.outcomes import selectors as outcome_selectors
from apps.outcomes.models import OUTCOME_LABELS, TOOLS
from apps.outcomes.params import window

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
@role_required("operator")
def hits(request):
    """The hit queue: each new hit's image beside its hotlist entry; confirm, reject, brief."""
    return _page(request, "console/hits.html", active="console-hits")


@require_GET
@role_required("operator", "it")
def hotlists(request):
    return _page(request, "console/hotlists.html", active="console-hotlists")


@require_GET
@role_required("operator", "clerk")
def plates(request):
    """Where has this plate been: a search with a stated reason, the reads on the map."""
    return _page(request, "console/plates.html", active="console-plates")


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


# Leads, assists, statistics and the public transparency report ------------------------------


@require_GET
@role_required("operator", "clerk")
def leads(request):
    return _page(request, "console/leads.html", active="console-leads", can_write=role_of(request.user) == "operator")


@require_GET
@role_required("operator", "clerk")
def lead_detail(request, lead_id):
    return _page(
        request,
        "console/lead.html",
        active="console-leads",
        lead_id=str(lead_id),
        can_write=role_of(request.user) == "operator",
        officers=selectors.officer_directory() if role_of(request.user) == "operator" else [],
    )


@require_GET
@role_required("operator", "clerk")
def assists(request):
    return _page(
        request,
        "console/assists.html",
        active="console-assists",
        can_write=role_of(request.user) == "operator",
        outcome_labels=OUTCOME_LABELS,
        tools=TOOLS,
    )


def _window(request, *, default: timedelta) -> tuple[datetime, datetime] | None:
    try:
        return window(request.GET, default=default)
    except ApplicationError:
        return None


@require_GET
@role_required("operator", "clerk", "it")
def statistics(request):
    bounds = _window(request, default=timedelta(days=365))
    interval = request.GET.get("interval", "month")
    if bounds is None or interval not in outcome_selectors.INTERVALS:
        return HttpResponseBadRequest("Unusable from, to or interval.")
    start, end = bounds
    if len(outcome_selectors.periods(interval, start, end)) > outcome_selectors.MAX_PERIODS:
        return HttpResponseBadRequest("Too many periods: choose a longer interval.")
    stats = outcome_selectors.outcome_stats(start=start, end=end, interval=interval)
    fmt = {"day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%b %Y"}[interval]
    labels = [row["start"].strftime(fmt) for row in stats["series"]]
    charts = [
        charts_svg.column_chart(
            title=f"Assists per {interval}", labels=labels, values=[row["assists"] for row in stats["series"]]
        ),
        charts_svg.bar_list(
            title="Outcomes", rows=[(OUTCOME_LABELS[code], n) for code, n in stats["outcomes"].items()]
        ),
        charts_svg.bar_list(
            title="Tools used", rows=[(tool.replace("_", " "), n) for tool, n in stats["tools"].items()]
        ),
    ]
    query = {"from": start.isoformat(), "to": end.isoformat(), "interval": interval}
    return _page(
        request,
        "console/statistics.html",
        active="console-statistics",
        stats=stats,
        charts=charts,
        outcome_rows=[(OUTCOME_LABELS[code], n) for code, n in stats["outcomes"].items()],
        start=start,
        end=end,
        interval=interval,
        csv_query=urlencode({**query, "format": "csv"}),
    )


TRANSPARENCY_FIGURES = [  # (label, how to read it from a report)
    ("Recording started remotely", lambda r: r["remote_recording"]["start_recording"]),
    ("Recording stopped remotely", lambda r: r["remote_recording"]["stop_recording"]),
    ("Live views (each person's first look)", lambda r: r["live_views"]),
    ("Evidence accesses", lambda r: r["evidence_accesses"]),
    ("Plate reads received", lambda r: r["plate_reads"]["received"]),
    ("Plate reads deleted", lambda r: r["plate_reads"]["deleted"]),
    ("Plate searches", lambda r: r["plate_searches"]),
    ("Plate hits", lambda r: r["hits"]["new"]),
    ("Plate hits confirmed", lambda r: r["hits"]["confirmed"]),
    ("Plate hits rejected", lambda r: r["hits"]["rejected"]),
    ("Facial recognition leads", lambda r: r["leads"]["facial_recognition"]["created"]),
    ("Facial recognition leads verified", lambda r: r["leads"]["facial_recognition"]["verified"]),
    ("Facial recognition leads rejected", lambda r: r["leads"]["facial_recognition"]["rejected"]),
    ("NIBIN leads", lambda r: r["leads"]["nibin"]["created"]),
    ("NIBIN leads verified", lambda r: r["leads"]["nibin"]["verified"]),
    ("NIBIN leads rejected", lambda r: r["leads"]["nibin"]["rejected"]),
    ("Other leads", lambda r: r["leads"]["other"]["created"]),
    ("Other leads verified", lambda r: r["leads"]["other"]["verified"]),
    ("Other leads rejected", lambda r: r["leads"]["other"]["rejected"]),
    ("Briefings sent to officers", lambda r: r["briefings"]),
]


@require_GET
def transparency(request):
    """Public (no login): what the center did with its powers, counts only, with a chart per month."""
    bounds = _window(request, default=timedelta(days=365))
    if bounds is None:
        return HttpResponseBadRequest("Unusable from or to.")
    start, end = bounds
    report = outcome_selectors.transparency_report(start=start, end=end)
    labels = [month["start"].strftime("%b %y") for month in report["months"]]
    figures = [
        {
            "label": label,
            "total": read(report),
            "chart": charts_svg.column_chart(
                title=label, labels=labels, values=[read(month) for month in report["months"]], width=520, height=180
            ),
        }
        for label, read in TRANSPARENCY_FIGURES
    ]
    return render(request, "console/transparency.html", {"figures": figures, "start": start, "end": end})
