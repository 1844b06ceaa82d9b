"""Run inside an rtcc process: what the database holds for the drill's commands, as JSON.

Input (env DRILL_REASONS_FILE): a JSON list of reasons, one per POST the drill made."""

import json
import os
from collections import Counter

from apps.audit.models import AuditEvent
from apps.control.models import Command

reasons = json.load(open(os.environ["DRILL_REASONS_FILE"]))
rows = list(Command.objects.filter(reason__in=reasons).values("id", "reason", "state"))
ids = [str(row["id"]) for row in rows]
succeeded = Counter(
    AuditEvent.objects.filter(action="command.succeeded", object_type="command", object_id__in=ids).values_list(
        "object_id", flat=True
    )
)
out = {
    row["reason"]: {"id": str(row["id"]), "state": row["state"], "succeeded_events": succeeded.get(str(row["id"]), 0)}
    for row in rows
}
per_reason = Counter(row["reason"] for row in rows)
print("DRILL-REPORT " + json.dumps({"commands": out, "rows_per_reason_max": max(per_reason.values(), default=0)}))
