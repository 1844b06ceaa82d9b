"""Bench-only settings for `bench/presence_status.py`: rtcc's settings without the per-device
frame budget, since this benchmark measures how many status frames one process absorbs with
every device sending as fast as the server takes them (a flood by design)."""

from rtcc.settings import *  # noqa: F403

RTCC_DEVICE_FRAME_RATE = 1_000_000
RTCC_DEVICE_FRAME_BURST = 1_000_000
