"""Input and output shapes of the commands API (the output is also the console's command.update)."""

from __future__ import annotations

import re

from rest_framework import serializers

from apps.core.errors import InvalidInput
from apps.core.fields import StrictCharField, StrictIntegerField
from apps.core.parsers import JsonBody
from apps.core.realtime import iso_time

from .conf import IDEMPOTENCY_KEY_MAX, REASON_MAX, default_ttl, max_ttl, min_ttl
from .models import Command, CommandAction, CommandState


class CommandCreateIn(serializers.Serializer):
    action = serializers.ChoiceField(choices=CommandAction.choices)
    reason = StrictCharField(max_length=REASON_MAX, allow_blank=False, trim_whitespace=True)
    ttl_seconds = StrictIntegerField(required=False)

    def validate_ttl_seconds(self, value: int) -> int:
        if not min_ttl() <= value <= max_ttl():
            raise serializers.ValidationError(f"Must be between {min_ttl()} and {max_ttl()} seconds.")
        return value

    def validate(self, attrs: dict) -> dict:
        attrs.setdefault("ttl_seconds", default_ttl())
        return attrs

    @staticmethod
    def plain(data: object) -> dict | None:
        """The validated data of the body operators send (an action, a reason in printable ASCII,
        a whole ttl_seconds in range or none), read without the serializer's machinery, which cost
        the command fast path more than all its other Python; None for any other body, which the
        serializer then reads (and refuses with its messages, or takes). Wherever it answers, the
        answer is the serializer's validated_data (tests/control/test_command_input.py)."""
        if type(data) is not JsonBody or not data.keys() <= _BODY_KEYS:
            return None
        action, reason, ttl = data.get("action"), data.get("reason"), data.get("ttl_seconds", default_ttl())
        if type(action) is not str or action not in _ACTIONS or type(reason) is not str or type(ttl) is not int:
            return None
        # Printable ASCII with no space at either end: some character shows (StrictCharField).
        reason = reason.strip()
        if not (reason.isascii() and reason.isprintable() and 0 < len(reason) <= REASON_MAX):
            return None
        if not min_ttl() <= ttl <= max_ttl():
            return None
        return {"action": action, "reason": reason, "ttl_seconds": ttl}


_BODY_KEYS = frozenset(CommandCreateIn._declared_fields)
_ACTIONS = frozenset(CommandAction.values)


_KEY = r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?"  # printable ASCII; a space only inside
_KEY_MATCH = re.compile(_KEY).fullmatch


class IdempotencyKeyIn(serializers.Serializer):
    key = serializers.RegexField(
        f"^{_KEY}$",
        max_length=IDEMPOTENCY_KEY_MAX,
        required=False,
        error_messages={"invalid": "Use printable ASCII characters (a space only between others)."},
    )


def idempotency_key_of(raw: str | None) -> str | None:
    """The Idempotency-Key header's value (None when absent); InvalidInput when it is not one."""
    if raw is None:
        return None
    key = raw.strip()
    if len(key) <= IDEMPOTENCY_KEY_MAX and _KEY_MATCH(key):  # the serializer's answer, sooner
        return key
    data = IdempotencyKeyIn(data={"key": key})
    if not data.is_valid() or not data.validated_data.get("key"):
        messages = data.errors.get("key") or ["Must not be blank."]
        raise InvalidInput(f"Idempotency-Key: {messages[0]}", fields={"Idempotency-Key": [str(m) for m in messages]})
    return data.validated_data["key"]


class CommandFilterIn(serializers.Serializer):
    state = serializers.ChoiceField(choices=CommandState.choices, required=False)


class CommandOut(serializers.ModelSerializer):
    """A command (API body and the console's `command.update`): the fields document the schema,
    `command_data` writes them."""

    device = StrictCharField(source="device_id")
    requested_by = StrictCharField(source="requested_by_id")
    cancelled_by = StrictCharField(source="cancelled_by_id", allow_null=True)
    error = StrictCharField(allow_null=True)

    class Meta:
        model = Command
        fields = [
            "id",
            "device",
            "action",
            "reason",
            "requested_by",
            "state",
            "created_at",
            "expires_at",
            "sent_at",
            "delivered_at",
            "finished_at",
            "error",
            "ttl_seconds",
            "send_count",
            "cancelled_by",
        ]

    def to_representation(self, instance: Command) -> dict:
        return command_data(instance)


def command_data(command: Command) -> dict:
    """CommandOut's representation as plain JSON-ready values, built without a serializer per
    call: it is on the path of every command and every transition."""
    return {
        "id": str(command.id),
        "device": str(command.device_id),
        "action": command.action,
        "reason": command.reason,
        "requested_by": str(command.requested_by_id),
        "state": command.state,
        "created_at": iso_time(command.created_at),
        "expires_at": iso_time(command.expires_at),
        "sent_at": iso_time(command.sent_at),
        "delivered_at": iso_time(command.delivered_at),
        "finished_at": iso_time(command.finished_at),
        "error": command.error or None,
        "ttl_seconds": command.ttl_seconds,
        "send_count": command.send_count,
        "cancelled_by": str(command.cancelled_by_id) if command.cancelled_by_id else None,
    }
