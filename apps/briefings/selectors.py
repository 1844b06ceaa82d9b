"""Reads of the briefings app: what each person may see, and audience selection."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import Role, User
from apps.core.errors import NotFound

from .models import Incident


def incidents_for(*, user: User) -> QuerySet[Incident]:
    incidents = Incident.objects.prefetch_related("assignments")
    if user.effective_role == Role.OPERATOR:
        return incidents
    return incidents.filter(assignments__officer=user)


def incident_get(*, user: User, incident_id) -> Incident:
    incident = incidents_for(user=user).filter(pk=incident_id).first()
    if incident is None:
        raise NotFound("No such incident.")
    return incident
