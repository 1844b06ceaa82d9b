"""Every write of the briefings app: incidents, media, briefings, deliveries, acknowledgements."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from apps.accounts.models import Role, User
from apps.audit.services import audit_record
from apps.core.errors import InvalidInput

from .models import Incident, IncidentOfficer


def _officers_by_ids(ids: Iterable, *, field: str) -> list[User]:
    """The officers with these ids, or a 400 naming the ids that are not active officers."""
    wanted = list(dict.fromkeys(str(i) for i in ids))
    found = {str(u.pk): u for u in User.objects.filter(pk__in=wanted, role=Role.OFFICER, is_active=True)}
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise InvalidInput(f"Not active officers: {', '.join(unknown)}.", fields={field: [
            f"Unknown officer id: {i}." for i in unknown]})
    return [found[i] for i in wanted]


@transaction.atomic
def incident_create(*, actor: User, title: str, lat: float, lon: float, radius_m: float | None = None,
                    case_number: str = "", request=None) -> Incident:
    incident = Incident.objects.create(title=title, lat=lat, lon=lon, case_number=case_number,
                                       created_by=actor, **({"radius_m": radius_m} if radius_m else {}))
    audit_record(action="incident.create", actor=actor, obj=incident, request=request,
                 details={"title": title, "lat": lat, "lon": lon, "radius_m": incident.radius_m,
                          "case_number": case_number})
    return incident


@transaction.atomic
def incident_assign_officers(*, actor: User, incident: Incident, officers: list, request=None) -> Incident:
    """Adds officers to the incident (already assigned ones are left as they are)."""
    people = _officers_by_ids(officers, field="officers")
    existing = set(IncidentOfficer.objects.filter(incident=incident).values_list("officer_id", flat=True))
    added = [p for p in people if p.pk not in existing]
    IncidentOfficer.objects.bulk_create(
        [IncidentOfficer(incident=incident, officer=p, assigned_by=actor) for p in added])
    audit_record(action="incident.assign", actor=actor, obj=incident, request=request,
                 details={"added": [str(p.pk) for p in added]})
    return incident
