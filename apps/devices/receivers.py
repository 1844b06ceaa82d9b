"""What the devices app does when a person changes (apps.accounts sends Django's post_save).

Devices are assigned to officers only (device_assign refuses anyone else). When IT gives an
officer another role, the devices they held are handed back: left assigned, a camera's new clips
would belong to a clerk or an operator, and pushes for officers would reach their phones."""

from __future__ import annotations

from django.db.models.signals import post_save

from apps.accounts.models import Role, User

from .models import Device
from .services import device_unassign


def officer_role_changed(sender, instance: User, update_fields=None, **kwargs) -> None:
    if update_fields is not None and "role" not in update_fields:
        return  # a login's last_login, a password: not the role
    if instance.role == Role.OFFICER:
        return
    actor, context = instance._changed_by or (None, None)  # IT's change through the API: theirs
    for device in Device.objects.filter(officer_id=instance.pk):
        device_unassign(
            device=device, actor=actor, context=context, reason=f"the officer's role is now {instance.role}"
        )


def connect() -> None:
    post_save.connect(officer_role_changed, sender=User, dispatch_uid="devices.officer_role_changed")
