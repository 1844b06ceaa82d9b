"""Every write about devices: registration, enrollment, assignment, revocation, push tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Role, User
from apps.accounts.tokens import DEVICE_PREFIX, hash_token, new_token
from apps.audit.services import AuditContext, audit_record
from apps.core.errors import Conflict, Forbidden, InvalidInput, TooManyRequests
from apps.core.locks import advisory_lock
from apps.core.realtime import console_send_after_commit, device_group, group_send_after_commit

from . import conf, presence, signals
from .models import Assignment, Device, DeviceKind, EnrollmentFailure
from .serializers import device_payload

# Crockford's base32: no I, L, O, U, so a code read aloud or off a label is typed right.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 50 bits
CODE_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def enrollment_code_new() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def enrollment_code_normalize(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper().translate(CODE_READS_AS)


def enrollment_code_hash(*, device_id, code: str) -> str:
    """Keyed with the server's secret and bound to the device: a copied database alone does not
    let anyone search the 50-bit code space offline."""
    message = f"{device_id}:{enrollment_code_normalize(code)}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _issue_code(device: Device) -> str:
    code = enrollment_code_new()
    device.enrollment_code_hash = enrollment_code_hash(device_id=device.pk, code=code)
    device.enrollment_expires_at = timezone.now() + conf.enrollment_code_ttl()
    return code


def _console_update(device: Device) -> None:
    presence.merge_live([device])
    console_send_after_commit("device.status", device_payload(device))


@transaction.atomic
def device_register(
    *,
    kind: str,
    serial: str,
    model: str = "",
    label: str = "",
    firmware: str = "",
    location: dict | None = None,
    actor=None,
    context: AuditContext | None = None,
) -> tuple[Device, str]:
    """A new device and its first enrollment code (returned once, stored only hashed). A fixed
    plate reader gives its `location` here; reads that carry none are placed there.

    A serial whose device was revoked registers again as a new device that `replaces` the
    latest revoked one; the revoked row keeps its clips, commands and audit trail."""
    if kind not in DeviceKind.values:
        raise InvalidInput(f"Unknown kind {kind!r}.", fields={"kind": ["Must be bodycam, phone or alpr."]})
    # No lock needed: two registrations racing for the serial (or for the same revoked device)
    # meet the unique constraints, and the loser is `serial_taken`.
    replaces = (
        Device.objects.filter(kind=kind, serial=serial, revoked_at__isnull=False, replaced_by__isnull=True)
        .order_by("-revoked_at")
        .first()
    )
    device = Device(kind=kind, serial=serial, model=model, label=label, firmware=firmware, replaces=replaces)
    if location:
        device.lat, device.lon, device.location_at = location["lat"], location["lon"], timezone.now()
    code = _issue_code(device)
    try:
        with transaction.atomic():
            device.save(force_insert=True)
    except IntegrityError:
        raise Conflict(f"A {kind} with serial {serial!r} is already registered.", code="serial_taken") from None
    audit_record(
        action="device.register",
        actor=actor,
        obj=device,
        context=context,
        details={
            "kind": kind,
            "serial": serial,
            "model": model,
            "label": label,
            "location": location,
            "enrollment_expires_at": device.enrollment_expires_at,
            "replaces": str(replaces.pk) if replaces else None,
        },
    )
    _console_update(device)
    return device, code


@transaction.atomic
def enrollment_reissue(*, device: Device, actor=None, context: AuditContext | None = None) -> str:
    """A fresh enrollment code; the previous code stops working, and enrolling with the new one
    replaces the device's token (a factory-reset camera is enrolled again this way)."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    if device.revoked:
        raise Conflict("This device is revoked; register it again to use it.", code="device_revoked")
    code = _issue_code(device)
    device.save(update_fields=["enrollment_code_hash", "enrollment_expires_at"])
    # The serial's failed tries were guesses at the code that stops working now: whoever made them
    # (anyone who can read the serial off the camera) must not keep the new one from working.
    # The per-address limit stays.
    cleared, _ = EnrollmentFailure.objects.filter(serial=device.serial).delete()
    audit_record(
        action="device.enrollment_code",
        actor=actor,
        obj=device,
        context=context,
        details={
            "enrollment_expires_at": device.enrollment_expires_at,
            "enrolled": bool(device.token_hash),
            "failed_tries_cleared": cleared,
        },
    )
    return code


def _throttle_wait(*, serial: str, source_ip: str | None, now: datetime) -> int:
    """Seconds until this serial and this address may try again (0: now)."""
    waits = [0]
    checks = [
        (
            EnrollmentFailure.objects.filter(serial=serial),
            conf.enroll_max_failures_per_serial(),
            conf.enroll_failure_window(),
        )
    ]
    if source_ip:
        checks.append(
            (
                EnrollmentFailure.objects.filter(source_ip=source_ip),
                conf.enroll_max_failures_per_address(),
                conf.enroll_address_window(),
            )
        )
    for failures, limit, window in checks:
        recent = list(failures.filter(at__gt=now - window).order_by("-at").values_list("at", flat=True)[:limit])
        if len(recent) >= limit:
            # the oldest of the last `limit` failures leaving the window frees one attempt
            waits.append(int((recent[-1] + window - now).total_seconds()) + 1)
    return max(waits)


def _enroll_failed(*, serial: str, reason: str, device: Device | None, context: AuditContext) -> Forbidden:
    source_ip = context.source_ip
    with transaction.atomic():
        EnrollmentFailure.objects.create(serial=serial, source_ip=source_ip)
        audit_record(
            action="device.enroll",
            outcome="failure",
            context=context,
            obj=device,
            object_type="device",
            object_id=device.pk if device else serial,
            details={"serial": serial, "reason": reason},
        )
    return Forbidden(
        "The serial and enrollment code do not match a device waiting to enroll.", code="enrollment_failed"
    )


def device_enroll(*, serial: str, code: str, context: AuditContext | None = None) -> tuple[Device, str]:
    """Trades a valid, unused enrollment code for the device's token (replacing any earlier one).

    Wrong, used and expired codes are 403 alike; failures are counted per address and per serial
    in the database, so the throttle holds across server processes.
    """
    context = context or AuditContext()
    serial = serial.strip()
    now = timezone.now()
    # Throttled already: answered without waiting in line. Else attempts on one serial (and from
    # one address) take turns, each seeing the failures of those before it: guesses sent all at
    # once were otherwise all checked against the count before any of them was recorded (13 of 16
    # went through a limit of 5).
    wait = _throttle_wait(serial=serial, source_ip=context.source_ip, now=now)
    with transaction.atomic():
        if not wait:
            advisory_lock(f"serial:{serial}", space="enroll")
            if context.source_ip:
                advisory_lock(f"address:{context.source_ip}", space="enroll")
            wait = _throttle_wait(serial=serial, source_ip=context.source_ip, now=now)
        if wait:
            audit_record(
                action="device.enroll",
                outcome="throttled",
                context=context,
                object_type="device",
                object_id=serial,
                details={"serial": serial, "retry_after": wait},
            )
        else:
            enrolled, failure = _enroll_with_code(serial=serial, code=code, now=now, context=context)
            if enrolled is not None:
                return enrolled
            refusal = _enroll_failed(serial=serial, reason=failure[0], device=failure[1], context=context)
    if wait:
        raise TooManyRequests("Too many failed enrollments; try again later.", retry_after=wait)
    raise refusal


def _enroll_with_code(
    *, serial: str, code: str, now, context: AuditContext
) -> tuple[tuple[Device, str] | None, tuple[str, Device | None]]:
    """(device, token) when the code enrolls one, else (None, (reason, device or None))."""
    candidates = list(Device.objects.select_for_update().filter(serial=serial).order_by("kind"))
    matched = None
    for device in candidates:
        expected = device.enrollment_code_hash or ""
        given = enrollment_code_hash(device_id=device.pk, code=code)
        if hmac.compare_digest(expected.encode(), given.encode()) and expected:
            matched = device
    if matched is None:
        reason = "no_such_serial" if not candidates else "wrong_or_used_code"
        return None, (reason, candidates[0] if len(candidates) == 1 else None)
    if matched.revoked:
        return None, ("revoked", matched)
    if matched.enrollment_expires_at is None or matched.enrollment_expires_at <= now:
        return None, ("expired", matched)
    replaced = bool(matched.token_hash)
    token = new_token(DEVICE_PREFIX)
    matched.token_hash = hash_token(token)
    matched.enrollment_code_hash = ""
    matched.enrollment_expires_at = None
    matched.enrolled_at = now
    matched.save(update_fields=["token_hash", "enrollment_code_hash", "enrollment_expires_at", "enrolled_at"])
    audit_record(
        action="device.enroll",
        actor=matched,
        obj=matched,
        context=context,
        details={"serial": serial, "replaced_token": replaced},
    )
    if replaced:
        # a socket opened with the old token must not stay open
        group_send_after_commit(device_group(matched.pk), {"type": "device.revoked", "reason": "re-enrolled"})
    return (matched, token), ("", None)


def _officer(officer_id) -> User:
    officer = User.objects.filter(pk=officer_id).first()
    if officer is None or not officer.is_active or officer.effective_role != Role.OFFICER:
        raise InvalidInput(
            "Devices are assigned to active officers only.",
            fields={"officer": ["Not an active user with the officer role."]},
        )
    return officer


@transaction.atomic
def device_assign(*, device: Device, officer_id, actor=None, context: AuditContext | None = None) -> Device:
    """Hands the device to an officer; a previous assignment ends now (history is kept)."""
    officer = _officer(officer_id)
    device = Device.objects.select_for_update().get(pk=device.pk)
    if device.revoked:
        raise Conflict("A revoked device cannot be assigned.", code="device_revoked")
    current = Assignment.objects.select_for_update().filter(device=device, ended_at__isnull=True).first()
    if current is not None and current.officer_id == officer.pk and device.officer_id == officer.pk:
        return device  # already theirs: nothing changes, nothing to audit
    now = timezone.now()
    previous = None
    if current is not None:
        previous = current.officer_id
        current.ended_at, current.ended_by = now, actor if isinstance(actor, User) else None
        current.save(update_fields=["ended_at", "ended_by"])
    Assignment.objects.create(
        device=device, officer=officer, started_at=now, assigned_by=actor if isinstance(actor, User) else None
    )
    device.officer = officer
    device.save(update_fields=["officer"])
    audit_record(
        action="device.assign",
        actor=actor,
        obj=device,
        context=context,
        details={
            "officer": str(officer.pk),
            "officer_username": officer.username,
            "previous_officer": str(previous) if previous else None,
        },
    )
    _console_update(device)
    return device


@transaction.atomic
def device_unassign(*, device: Device, actor=None, context: AuditContext | None = None, reason: str = "") -> Device:
    """Ends the current assignment, if there is one; `reason` says why when it was not asked for."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    current = Assignment.objects.select_for_update().filter(device=device, ended_at__isnull=True).first()
    if current is None and device.officer_id is None:
        return device
    if current is not None:
        current.ended_at, current.ended_by = timezone.now(), actor if isinstance(actor, User) else None
        current.save(update_fields=["ended_at", "ended_by"])
    previous = device.officer_id
    device.officer = None
    device.save(update_fields=["officer"])
    audit_record(
        action="device.unassign",
        actor=actor,
        obj=device,
        context=context,
        details={"officer": str(previous) if previous else None, **({"reason": reason} if reason else {})},
    )
    _console_update(device)
    return device


@transaction.atomic
def device_revoke(*, device: Device, actor=None, context: AuditContext | None = None, reason: str = "") -> Device:
    """The token stops working at once (HTTP checks revoked_at on every request) and every open
    socket of the device, on whichever process holds it, is closed with 4403."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    if device.revoked:
        return device
    device.revoked_at = timezone.now()
    device.enrollment_code_hash = ""
    device.enrollment_expires_at = None
    device.online = False
    device.save(update_fields=["revoked_at", "enrollment_code_hash", "enrollment_expires_at", "online"])
    audit_record(
        action="device.revoke",
        actor=actor,
        obj=device,
        context=context,
        details={"serial": device.serial, "kind": device.kind, "reason": reason},
    )
    signals.announce(signals.device_revoked, str(device.pk))  # a live view ends as revoked
    group_send_after_commit(
        device_group(device.pk), {"type": "device.revoked", "revoked_at": device.revoked_at.isoformat()}
    )
    _console_update(device)
    return device


@transaction.atomic
def push_token_set(*, device: Device, token: str, context: AuditContext | None = None) -> Device:
    """Registers the phone's FCM token; a token belongs to one device, so it moves here."""
    token = token.strip()
    if not token:
        raise InvalidInput("The push token is blank.", fields={"token": ["This field may not be blank."]})
    if len(token) > conf.PUSH_TOKEN_MAX:
        raise InvalidInput(
            "The push token is too long.", fields={"token": [f"At most {conf.PUSH_TOKEN_MAX} characters."]}
        )
    digest = hashlib.sha256(token.encode()).hexdigest()
    # Two phones registering one token at once (a reinstall, a retry) take turns: each moves it
    # from the other, and neither meets the unique index first (a 500).
    advisory_lock(digest, space="push-token")
    device = Device.objects.select_for_update().get(pk=device.pk)
    moved_from = list(
        Device.objects.select_for_update()
        .filter(push_token_hash=digest)
        .exclude(pk=device.pk)
        .values_list("pk", flat=True)
    )
    if moved_from:
        Device.objects.filter(pk__in=moved_from).update(
            push_token=None, push_token_hash=None, push_token_updated_at=timezone.now()
        )
    changed = device.push_token_hash != digest
    device.push_token, device.push_token_hash = token, digest
    device.push_token_updated_at = timezone.now()
    device.save(update_fields=["push_token", "push_token_hash", "push_token_updated_at"])
    audit_record(
        action="device.push_token",
        actor=device,
        obj=device,
        context=context,
        details={"token_sha256": digest[:16], "changed": changed, "moved_from": [str(pk) for pk in moved_from]},
    )
    return device


def presence_mark_stale() -> int:
    """Rows that still say online although the live view says offline are set offline: a device
    gone silent for the presence timeout, and one whose sockets were all on a process that died
    (it reads offline within presence.PROCESS_TTL, its last sign of life still fresh; the console
    was told only once the timeout had passed too, minutes after the API said offline)."""
    candidates = list(Device.objects.filter(online=True))
    presence.merge_live(candidates)
    stale = [device for device in candidates if not device.online]
    for device in stale:
        with transaction.atomic():
            Device.objects.filter(pk=device.pk, online=True).update(online=False)
            _console_update(device)
    return len(stale)
