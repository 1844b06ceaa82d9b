"""Reads: assists, outcome statistics, suggested assists and the public transparency report.

Statistics and the report read the activity counters (apps.counters), never the raw tables:
their cost depends on the length of the window in months, not on the number of events.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import QuerySet

from apps.alpr.models import Hit
from apps.briefings.models import Briefing
from apps.counters import names as counted
from apps.counters.selectors import PERIOD_OF, counter_series, counter_totals, next_month
from apps.leads.models import Kind, LeadBriefing

from .models import OUTCOME_CODES, TOOLS, Assist, DismissedSuggestion

INTERVALS = ("day", "week", "month")
MAX_PERIODS = 5000


def assist_list(*, case_number: str | None = None) -> QuerySet[Assist]:
    queryset = Assist.objects.all()
    if case_number:
        queryset = queryset.filter(case_number=case_number)
    return queryset.order_by("-occurred_at", "id")


def next_period(interval: str, start: datetime) -> datetime:
    if interval == "month":
        return next_month(start)
    return start + timedelta(days=7 if interval == "week" else 1)


def periods(interval: str, start: datetime, end: datetime) -> list[datetime]:
    out, current = [], PERIOD_OF[interval](start)
    while current < end:
        out.append(current)
        current = next_period(interval, current)
    return out


def outcome_stats(*, start: datetime, end: datetime, interval: str = "month") -> dict:
    """Assists and each outcome code per period (by occurred_at), and the totals."""
    series = counter_series(
        start=start,
        end=end,
        period=interval,
        prefix=counted.ASSIST,
    )
    rows, total = [], {counted.ASSIST: 0}
    for period in periods(interval, start, end):
        counts = series.get(period, {})
        row = {
            "start": period,
            "assists": counts.get(counted.ASSIST, 0),
            "outcomes": {code: counts.get(counted.assist_outcome(code), 0) for code in OUTCOME_CODES},
            "tools": {tool: counts.get(f"assist.tool.{tool}", 0) for tool in TOOLS},
        }
        rows.append(row)
    for counts in series.values():
        for name, n in counts.items():
            total[name] = total.get(name, 0) + n
    return {
        "from": start,
        "to": end,
        "interval": interval,
        "assists": total[counted.ASSIST],
        "outcomes": {code: total.get(counted.assist_outcome(code), 0) for code in OUTCOME_CODES},
        "tools": {tool: total.get(f"assist.tool.{tool}", 0) for tool in TOOLS},
        "series": rows,
    }


def _report(counts: dict[str, int]) -> dict:
    def n(name: str) -> int:
        return counts.get(name, 0)

    return {
        "remote_recording": {
            "start_recording": n(counted.command("start_recording")),
            "stop_recording": n(counted.command("stop_recording")),
        },
        "live_views": n(counted.LIVE_VIEW),
        "evidence_accesses": n(counted.EVIDENCE_ACCESS),
        "plate_reads": {"received": n(counted.PLATE_READS_RECEIVED), "deleted": n(counted.PLATE_READS_DELETED)},
        "plate_searches": n(counted.PLATE_SEARCH),
        "hits": {state: n(counted.hit(state)) for state in ("new", "confirmed", "rejected")},
        "leads": {
            kind: {event: n(counted.lead(kind, event)) for event in ("created", "verified", "rejected")}
            for kind in Kind.values
        },
        "briefings": n(counted.BRIEFING_SENT),
    }


def transparency_report(*, start: datetime, end: datetime, monthly: bool = True) -> dict:
    """The public report: counts only (the counters hold no name, plate or id)."""
    if not monthly:
        return {"from": start, "to": end, **_report(counter_totals(start=start, end=end))}
    series = counter_series(start=start, end=end, period="month")
    totals: dict[str, int] = {}
    for counts in series.values():
        for name, n in counts.items():
            totals[name] = totals.get(name, 0) + n
    months = [{"start": month, **_report(series.get(month, {}))} for month in periods("month", start, end)]
    return {"from": start, "to": end, **_report(totals), "months": months}


def _hit_briefings(briefing_ids: list) -> dict:
    """{briefing id: hit id} for briefings made from a plate hit (when apps.alpr is installed)."""
    return dict(Hit.objects.filter(briefing_id__in=briefing_ids).values_list("briefing_id", "pk"))


def assist_suggestions(*, since: datetime, limit: int = 100) -> list[dict]:
    """Briefings sent since `since` with no assist logged and not dismissed: what each likely
    gave the field (a vehicle: vehicle_info; a suspect: suspect_info) and with which tools.
    An operator confirms one by logging the assist with its `briefing`."""
    briefings = list(
        Briefing.objects.filter(created_at__gte=since)
        .select_related("incident")
        .exclude(assists__isnull=False)
        .exclude(pk__in=DismissedSuggestion.objects.values("briefing_id"))
        .order_by("-created_at")[:limit]
    )
    ids = [b.pk for b in briefings]
    leads = {
        share.briefing_id: share.lead
        for share in LeadBriefing.objects.filter(briefing_id__in=ids).select_related("lead")
    }
    from_hits = _hit_briefings(ids)
    out = []
    for briefing in briefings:
        outcomes, tools = [], ["briefing"]
        if briefing.vehicles:
            outcomes.append("vehicle_info")
        if briefing.suspects:
            outcomes.append("suspect_info")
        lead = leads.get(briefing.pk)
        if lead is not None:
            if "suspect_info" not in outcomes and lead.kind == Kind.FACIAL_RECOGNITION:
                outcomes.append("suspect_info")
            if lead.kind != Kind.OTHER:
                tools.append(lead.kind)
            if not outcomes:
                outcomes.append("case_info")
        if briefing.pk in from_hits:
            tools.append("alpr")
        if not outcomes:
            outcomes.append("case_info")
        out.append(
            {
                "briefing": briefing,
                "lead": lead,
                "hit": from_hits.get(briefing.pk),
                "outcomes": outcomes,
                "tools": tools,
                # the lead's case, else the incident's: the assist is logged against the case
                "case_number": (lead.case_number if lead is not None else "")
                or (briefing.incident.case_number if briefing.incident is not None else ""),
                "incident": briefing.incident_id,
            }
        )
    return out
