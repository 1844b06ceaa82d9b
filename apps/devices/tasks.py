"""Periodic housekeeping of the fleet: stale presence, old enrollment failures."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from . import conf


@shared_task
def presence_sweep() -> int:
    """Marks offline the devices whose last sign of life is older than the timeout (a socket on a
    process that died, a device gone silent); tells the console. Returns how many."""
    from . import services

    return services.presence_mark_stale()


@shared_task
def enroll_failures_prune() -> int:
    """Forgets enrollment failures that no longer count toward the throttle."""
    from .models import EnrollmentFailure

    cutoff = timezone.now() - max(conf.enroll_failure_window(), conf.enroll_address_window(), timedelta(days=1))
    deleted, _ = EnrollmentFailure.objects.filter(at__lt=cutoff).delete()
    return deleted
