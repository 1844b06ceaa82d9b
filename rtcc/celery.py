"""The Celery application: broker and tasks configured from Django settings."""

import os

from celery import Celery

from apps.core.heartbeat import WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtcc.settings")

app = Celery("rtcc")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.steps["consumer"].add(WorkerHeartbeat)  # its absence shows in /readyz and on the console
