"""Run inside an rtcc process (`manage.py shell < seed.py`-style, via drills.harness): makes an
operator and N officers, each with a bodycam and a phone, and prints their tokens as JSON."""

import json
import os
import uuid

from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import token_issue
from apps.accounts.tokens import DEVICE_PREFIX, hash_token, new_token
from apps.devices.models import Device

count = int(os.environ["DRILL_DEVICES"])
run = uuid.uuid4().hex[:6]
operator = User(username=f"drill-operator-{run}", role="operator", full_name="Drill Operator")
operator.set_password(uuid.uuid4().hex)
operator.save()
operator_token, _ = token_issue(user=operator)
now = timezone.now()
cameras = []
for n in range(count):
    officer = User(username=f"drill-officer-{run}-{n}", role="officer", full_name=f"Officer {n}")
    officer.set_unusable_password()
    officer.save()
    push_token = f"drill-{run}-{n}-{uuid.uuid4().hex}"
    Device.objects.create(
        kind="phone",
        serial=f"DRILL-P-{run}-{n}",
        token_hash=hash_token(new_token(DEVICE_PREFIX)),
        enrolled_at=now,
        officer=officer,
        push_token=push_token,
        push_token_hash=hash_token(push_token),
        push_token_updated_at=now,
    )
    token = new_token(DEVICE_PREFIX)
    camera = Device.objects.create(
        kind="bodycam", serial=f"DRILL-C-{run}-{n}", token_hash=hash_token(token), enrolled_at=now, officer=officer
    )
    cameras.append({"id": str(camera.pk), "token": token, "phone_token": push_token})
print("DRILL-SEED " + json.dumps({"operator_token": operator_token, "cameras": cameras}))
