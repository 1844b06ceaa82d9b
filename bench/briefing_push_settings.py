"""Settings for bench/briefing_push.py: rtcc's own, plus django-push-notifications (the baseline)."""

from rtcc.settings import *  # noqa: F403
from rtcc.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "push_notifications"]
# send_each takes at most 500 messages; the library's default chunk (1000) would make it raise.
PUSH_NOTIFICATIONS_SETTINGS = {"FCM_MAX_RECIPIENTS": 500}
