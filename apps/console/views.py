"""The console's pages: each role lands on its own; the live data comes from the JSON API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from apps.core.errors import ApplicationError
from apps.core.filters import parse_time_param
from apps.outcomes import charts as charts_svg
from apps.outcomes import selectors as outcome_selectors
from apps.outcomes.models import OUTCOME_LABELS, TOOLS
from apps.outcomes.params import window

from . import selectors
from .access import LANDING, pages_for, role_of, role_required
from .qr import qr_svg

MAX_QR_DATA = 1024


def _page(request, template: str, *, active: str, status: int = 200, **context):
    """Renders a console page with what every page needs: the role's navigation and who is in."""
    user = request.user
    context.update(
        active=active,
        nav=pages_for(user),
        role=role_of(user),
        me={"id": str(user.pk), "username": user.username, "full_name": user.full_name, "role": role_of(user)},
    )
    return render(request, template, context, status=status)


@require_safe
def home(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    role = role_of(request.user)
    landing = LANDING.get(role) if role else None
    if landing is None:
        raise PermissionDenied("No console page is open to your role.")
    return redirect(reverse(landing))


# The pages: each is a template, the roles that may open it, the navigation entry it lights, the
# directories it embeds (names for the ids the API gives) and the ids from its URL, as strings.
DIRECTORIES: dict[str, Callable[[], list[dict]]] = {
    "officers": selectors.officer_directory,
    "devices": selectors.device_directory,
    "incidents": selectors.incident_directory,
}


def console_page(
    template: str,
    *,
    roles: tuple[str, ...],
    active: str,
    directories: tuple[str, ...] = (),
    extra: Callable[[HttpRequest], dict] | None = None,
    found: Callable[..., bool] | None = None,
):
    """A page's view: the role check (login page for nobody, 403 for another role), then the
    template with the directories it names, its URL's ids and `extra(request)` (what depends on
    the request: the viewer's role, a query parameter). `found(**ids)`: whether the object the URL
    names exists (else the console's 404 page, not an empty page that loads nothing)."""

    @require_safe  # GET, and HEAD (a link checker's or a proxy's probe)
    @role_required(*roles)
    def view(request, **ids):
        if found is not None and not found(**ids):
            raise Http404("No such page.")
        context: dict = {name: DIRECTORIES[name]() for name in directories}
        context.update({key: str(value) for key, value in ids.items()})
        if extra is not None:
            context.update(extra(request))
        return _page(request, template, active=active, **context)

    view.__name__ = view.__qualname__ = template.rsplit("/", 1)[-1].removesuffix(".html")
    return view


def _operator(request) -> bool:
    return role_of(request.user) == "operator"


EVERYTHING = ("officers", "devices", "incidents")

phone = console_page("console/phone.html", roles=("officer",), active="console-phone")
fleet = console_page(
    "console/fleet.html",
    roles=("operator", "it"),
    active="console-fleet",
    directories=("officers",),
    extra=lambda request: {
        "can_command": _operator(request),
        "can_watch": _operator(request),
        # Commands are the operators' (IT's wall shows no command: the API refuses it them).
        "operators": selectors.operator_directory() if _operator(request) else [],
        "last_commands": selectors.last_commands() if _operator(request) else [],
    },
)
# The live viewer of one session (hls.js); the session itself is read from the API.
live_view = console_page(
    "console/live_view.html",
    roles=("operator",),
    active="console-fleet",
    directories=("officers",),
    found=selectors.live_session_exists,
)
map_view = console_page(
    "console/map.html", roles=("operator",), active="console-map", directories=("officers", "incidents")
)
incidents = console_page(
    "console/incidents.html", roles=("operator",), active="console-incidents", directories=("officers", "incidents")
)
briefing_new = console_page(
    "console/briefing_new.html",
    roles=("operator",),
    active="console-incidents",
    directories=("officers", "incidents"),
    extra=lambda request: {"incident_id": request.GET.get("incident", "")},
)
briefing_board = console_page(
    "console/briefing_board.html",
    roles=("operator",),
    active="console-incidents",
    directories=("officers",),
    found=selectors.briefing_exists,
)
# The hit queue: each new hit's image beside its hotlist entry; confirm, reject, brief. Before a
# brief the page asks the API whom it would reach (hits/<id>/brief/preview): a stolen-vehicle
# alert to nobody went out as "sent to 0 officers".
hits = console_page("console/hits.html", roles=("operator",), active="console-hits")
hotlists = console_page("console/hotlists.html", roles=("operator", "it"), active="console-hotlists")
# Where has this plate been: a search with a stated reason, the reads on the map.
plates = console_page("console/plates.html", roles=("operator", "clerk"), active="console-plates")
footage = console_page("console/footage.html", roles=("clerk",), active="console-footage", directories=EVERYTHING)


def _clip_origin(request) -> dict | None:
    match = request.resolver_match
    return selectors.clip_origin(match.kwargs["clip_id"]) if match is not None else None


clip_detail = console_page(
    "console/clip.html",
    roles=("clerk",),
    active="console-footage",
    directories=EVERYTHING,
    extra=lambda request: {"origin": _clip_origin(request)},
    found=selectors.clip_exists,
)
devices = console_page("console/devices.html", roles=("it",), active="console-devices", directories=("officers",))
users = console_page("console/users.html", roles=("it",), active="console-users")


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


leads = console_page(
    "console/leads.html",
    roles=("operator", "clerk"),
    active="console-leads",
    extra=lambda request: {"can_write": _operator(request)},
)
lead_detail = console_page(
    "console/lead.html",
    roles=("operator", "clerk"),
    active="console-leads",
    extra=lambda request: {
        "can_write": _operator(request),
        "officers": selectors.officer_directory() if _operator(request) else [],
    },
    found=selectors.lead_exists,
)
assists = console_page(
    "console/assists.html",
    roles=("operator", "clerk"),
    active="console-assists",
    extra=lambda request: {"can_write": _operator(request), "outcome_labels": OUTCOME_LABELS, "tools": TOOLS},
)


def _window(request, *, default: timedelta) -> tuple[datetime, datetime]:
    """(from, to) of a page's form, whose dates are whole days: `to` names the last day shown, so
    it counts through that day's end (the API reads a bare date as its midnight, which would
    leave the day out: today's figures vanished when a person pressed Show). Raises
    ApplicationError with the message to show."""
    params = request.GET.copy()
    raw_to = params.get("to", "").strip()
    if len(raw_to) == 10:  # a bare date: its midnight (the query parser's reading), then the next
        try:
            params["to"] = (parse_time_param(raw_to) + timedelta(days=1)).isoformat()
        except ValueError:
            pass  # not a usable date: window() says what is wrong with it
    return window(params, default=default)


def _last_day(end: datetime) -> date:
    """The last day a window `to` end covers (an end at midnight covers the day before)."""
    return (end - timedelta(microseconds=1)).date()


def _form_error(exc: ApplicationError, request) -> dict:
    """What a page shows instead of its figures (with 400): the form as the person filled it in
    and what is wrong with it."""
    return {"error": exc.message, "form": request.GET}


@require_safe
@role_required("operator", "clerk", "it")
def statistics(request):
    interval = request.GET.get("interval", "month")
    try:
        start, end = _window(request, default=timedelta(days=365))
        if interval not in outcome_selectors.INTERVALS:
            raise ApplicationError("interval: Must be day, week or month.")
        if len(outcome_selectors.periods(interval, start, end)) > outcome_selectors.MAX_PERIODS:
            raise ApplicationError("Too many periods: choose a longer interval or a shorter window.")
    except ApplicationError as exc:
        return _page(
            request,
            "console/statistics.html",
            active="console-statistics",
            status=400,
            interval=interval,
            **_form_error(exc, request),
        )
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
        last_day=_last_day(end),
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


@require_safe
def transparency(request):
    """Public (no login): what the center did with its powers, counts only, with a chart per month."""
    try:
        start, end = _window(request, default=timedelta(days=365))
    except ApplicationError as exc:
        return render(request, "console/transparency.html", _form_error(exc, request), status=400)
    report = outcome_selectors.transparency_report(start=start, end=end)
    labels = [month["start"].strftime("%b %Y") for month in report["months"]]
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
    context = {
        "figures": figures,
        "start": start,
        "end": end,
        "last_day": _last_day(end),
        "api_query": urlencode({"from": start.isoformat(), "to": end.isoformat()}),
    }
    return render(request, "console/transparency.html", context)
