"""Periodic housekeeping: stale presence is set offline, old enrollment failures are forgotten."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.devices import tasks
from apps.devices.models import Device, EnrollmentFailure
from apps.devices.schedule import BEAT_SCHEDULE

pytestmark = pytest.mark.django_db


def test_sweep_sets_silent_devices_offline(register):
    silent, _ = register("bodycam")
    alive, _ = register("phone")
    Device.objects.filter(pk=silent.pk).update(online=True, last_seen=timezone.now() - timedelta(hours=1))
    Device.objects.filter(pk=alive.pk).update(online=True, last_seen=timezone.now())
    assert tasks.presence_sweep() == 1
    assert Device.objects.get(pk=silent.pk).online is False
    assert Device.objects.get(pk=alive.pk).online is True
    assert tasks.presence_sweep() == 0


def test_prune_forgets_old_failures():
    EnrollmentFailure.objects.create(serial="A", source_ip="10.0.0.1", at=timezone.now() - timedelta(days=2))
    EnrollmentFailure.objects.create(serial="B", source_ip="10.0.0.1")
    assert tasks.enroll_failures_prune() == 1
    assert list(EnrollmentFailure.objects.values_list("serial", flat=True)) == ["B"]


def test_schedule_names_real_tasks():
    for entry in BEAT_SCHEDULE.values():
        module, name = entry["task"].rsplit(".", 1)
        assert module == "apps.devices.tasks" and callable(getattr(tasks, name))
