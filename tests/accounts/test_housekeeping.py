"""Ended API tokens and old login attempts are deleted by periodic tasks, in bounded batches,
and the audit trail that names them is left exactly as it was."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.accounts import services, tasks
from apps.accounts.models import ApiToken, LoginAttempt
from apps.accounts.schedule import BEAT_SCHEDULE
from apps.accounts.selectors import login_lockout_remaining
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_verify_chain

pytestmark = pytest.mark.django_db


def _token(user, *, expires_in: timedelta, revoked_ago: timedelta | None = None) -> ApiToken:
    _, record = services.token_issue(user=user)
    now = timezone.now()
    ApiToken.objects.filter(pk=record.pk).update(
        expires_at=now + expires_in, revoked_at=None if revoked_ago is None else now - revoked_ago
    )
    return record


def test_tokens_ended_past_the_grace_are_deleted_and_their_audit_events_stay(operator):
    grace = settings.RTCC_TOKEN_KEEP_ENDED
    live = _token(operator, expires_in=timedelta(hours=1))
    expired_lately = _token(operator, expires_in=-grace + timedelta(hours=1))
    revoked_lately = _token(operator, expires_in=timedelta(hours=1), revoked_ago=grace - timedelta(hours=1))
    expired_long_ago = _token(operator, expires_in=-grace - timedelta(hours=1))
    revoked_long_ago = _token(operator, expires_in=timedelta(hours=1), revoked_ago=grace + timedelta(hours=1))
    events = list(AuditEvent.objects.order_by("seq").values_list("seq", "hash", "details"))

    assert tasks.tokens_prune() == 2
    left = set(ApiToken.objects.values_list("pk", flat=True))
    assert left == {live.pk, expired_lately.pk, revoked_lately.pk}
    # The trail is as it was, and still names the deleted tokens.
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", "hash", "details")) == events
    named = {e[2].get("token") for e in events}
    assert {str(expired_long_ago.pk), str(revoked_long_ago.pk)} <= named
    assert audit_verify_chain().ok
    assert tasks.tokens_prune() == 0  # idempotent


def test_login_attempts_the_lockout_no_longer_counts_are_deleted_and_a_lockout_still_holds(operator):
    now = timezone.now()
    looked_back = settings.RTCC_LOGIN_FAILURE_WINDOW + settings.RTCC_LOGIN_LOCKOUT
    old = now - looked_back - settings.RTCC_LOGIN_ATTEMPT_KEEP_MARGIN - timedelta(minutes=1)
    LoginAttempt.objects.bulk_create(
        [LoginAttempt(username="someone", succeeded=False, source_ip="10.0.0.9", at=old) for _ in range(30)]
    )
    # A lockout in force now: its failures must survive the prune.
    LoginAttempt.objects.bulk_create(
        [
            LoginAttempt(username="operator", succeeded=False, source_ip="10.0.0.1", at=now - timedelta(minutes=1))
            for _ in range(settings.RTCC_LOGIN_MAX_FAILURES)
        ]
    )
    locked = login_lockout_remaining(username="operator", source_ip="10.0.0.1")
    assert locked > 0

    assert tasks.login_attempts_prune() == 30
    assert LoginAttempt.objects.count() == settings.RTCC_LOGIN_MAX_FAILURES
    assert login_lockout_remaining(username="operator", source_ip="10.0.0.1") > 0
    assert tasks.login_attempts_prune() == 0


def test_a_prune_deletes_in_bounded_batches_and_leaves_the_rest_to_the_next_run(monkeypatch):
    monkeypatch.setattr(services, "PRUNE_BATCH", 4)
    monkeypatch.setattr(services, "PRUNE_MAX_BATCHES", 2)
    old = timezone.now() - timedelta(days=2)
    LoginAttempt.objects.bulk_create([LoginAttempt(username="x", succeeded=False, at=old) for _ in range(11)])
    assert tasks.login_attempts_prune() == 8
    assert tasks.login_attempts_prune() == 3
    assert not LoginAttempt.objects.exists()


def test_the_prunes_are_in_the_beat_schedule():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"apps.accounts.tasks.tokens_prune", "apps.accounts.tasks.login_attempts_prune"} <= scheduled
    for entry in BEAT_SCHEDULE.values():
        module, name = entry["task"].rsplit(".", 1)
        assert module == "apps.accounts.tasks" and callable(getattr(tasks, name))
