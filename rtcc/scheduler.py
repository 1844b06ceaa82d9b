"""The embedded default's stand-in for `celery beat`: runs CELERY_BEAT_SCHEDULE in a thread.

Only used when REDIS_URL is unset (tasks run in process); production runs `celery -A rtcc beat`.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

log = logging.getLogger(__name__)
_started = False
_lock = threading.Lock()


def _seconds(schedule) -> float:
    if isinstance(schedule, (int, float)):
        return float(schedule)
    if hasattr(schedule, "total_seconds"):
        return schedule.total_seconds()
    return float(schedule.run_every.total_seconds())


def _loop() -> None:
    from celery import current_app
    from django.db import close_old_connections

    current_app.loader.import_default_modules()  # the apps' tasks modules, as a worker imports them at start
    schedule = settings.CELERY_BEAT_SCHEDULE
    due = {name: time.monotonic() + _seconds(entry["schedule"]) for name, entry in schedule.items()}
    while True:
        time.sleep(1)
        now = time.monotonic()
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
            if now < due[name]:
                continue
            due[name] = now + _seconds(entry["schedule"])
            try:
                close_old_connections()
                current_app.tasks[entry["task"]].apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}))
            except Exception:
                log.exception("periodic task %s failed", name)
            finally:
                close_old_connections()


def start_embedded_scheduler() -> None:
    global _started
    with _lock:
        if _started or not settings.EMBEDDED or not settings.CELERY_BEAT_SCHEDULE:
            return
        _started = True
    threading.Thread(target=_loop, name="rtcc-embedded-beat", daemon=True).start()
