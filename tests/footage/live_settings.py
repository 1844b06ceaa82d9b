"""Settings for a daphne process in the footage tests: tiny parts, and tasks run in the process."""

from rtcc.settings import *  # noqa: F403

RTCC_CLIP_MIN_PART_SIZE = 64 * 1024
CELERY_TASK_ALWAYS_EAGER = True  # the verification runs in the web process (no worker in this test)
RTCC_CLIP_INLINE_VERIFY_MAX = 100_000  # bigger clips are verified in a thread of the web process
