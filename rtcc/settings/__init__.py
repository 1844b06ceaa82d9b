"""rtcc's Django settings: one module, every value from rtcc.env."""

from .base import *  # noqa: F403
