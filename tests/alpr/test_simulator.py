"""simulate_fleet --kind alpr: readers enroll over the API and post reads, some on a hotlist."""

from __future__ import annotations

import random

import pytest
from django.core.management import call_command

from apps.alpr.models import Hit, Hotlist, Read
from apps.simulator.plate_readers import misread
from tests.alpr.conftest import enroll


def test_a_misread_folds_back_onto_the_plate():
    from apps.core.plates import fold

    rng = random.Random(7)
    for plate in ["ABC1234", "XYZ0805", "GBS2001"]:
        wrong = misread(plate, rng)
        assert wrong != plate and fold(wrong) == fold(plate)


def test_simulated_readers_post_reads_and_make_hits(live_server_process, capsys):
    from apps.accounts.models import User
    from apps.alpr import services

    operator = User.objects.create(username="sim-op", role="operator")
    hotlist = Hotlist.objects.create(name="Sim NCIC", source="ncic")
    services.entry_add(actor=operator, hotlist=hotlist, plate="HOT1234", reason="Stolen")
    call_command(
        "simulate_fleet",
        count=2,
        url=live_server_process.url,
        kind="alpr",
        interval=0.2,
        duration=1.5,
        batch=10,
        hot_plates="HOT1234",
        hit_rate=0.5,
    )
    out = capsys.readouterr().out
    assert "enrolled 2 plate reader(s)" in out and "stopped:" in out
    assert Read.objects.count() >= 20
    assert Read.objects.values("reader").distinct().count() == 2
    assert Hit.objects.count() >= 1
    assert {h.match for h in Hit.objects.all()} <= {"exact", "similar"}


@pytest.mark.django_db
def test_reader_helper_enrolls(db):
    device, token = enroll()
    assert device.kind == "alpr" and token.startswith("rtd_")
