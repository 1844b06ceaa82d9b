"""Every Celery task of apps.footage, in the module Celery's autodiscovery reads (task names are
fixed in each decorator, so queued tasks survive the move into ingest/ and records/)."""

from .ingest.tasks import sweep_uploads, verify_clip, verify_sweep
from .records.tasks import clip_object_lock_sync, object_lock_sweep, purge_expired_clips

__all__ = [
    "clip_object_lock_sync",
    "object_lock_sweep",
    "purge_expired_clips",
    "sweep_uploads",
    "verify_clip",
    "verify_sweep",
]
