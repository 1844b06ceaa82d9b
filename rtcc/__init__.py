"""rtcc: the backend between a real-time crime center and the officers in the field."""

from .celery import app as celery_app

__all__ = ("celery_app",)
