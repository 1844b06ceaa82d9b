"""ASGI entry point: `daphne rtcc.asgi:application` serves HTTP, static files and both websockets."""

import gc
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtcc.settings")

import django

django.setup(set_prefix=False)

from apps.core.staticfiles import ensure_static_files  # noqa: E402

# Hashed static files are collected here when their sources changed, before WhiteNoise (in the
# middleware) looks at STATIC_ROOT: `daphne rtcc.asgi:application` needs no step before it.
ensure_static_files()

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from apps.control.fastpath import CommandFastPath  # noqa: E402
from apps.core import bodylimits  # noqa: E402
from apps.core.bodylimits import ChunkedBodyApp  # noqa: E402
from apps.core.fastpaths import DatabaseDownAnswer  # noqa: E402
from apps.core.proxies import ForwardedFor  # noqa: E402
from apps.core.requestids import RequestId  # noqa: E402
from apps.devices.presence import presence_reset_at_start  # noqa: E402
from apps.live.fastpath import LiveFastPath  # noqa: E402
from rtcc.routing import websocket  # noqa: E402
from rtcc.scheduler import start_embedded_scheduler  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Static files too: WhiteNoise, in the middleware, serves them (apps/core/staticfiles.py).
        # The operator's command POST and live view's per-second viewer requests are answered
        # before Django when they can be (apps/control/fastpath.py, apps/live/fastpath.py), a
        # database error escaping them a 503 (apps/core/fastpaths.py: DatabaseDownAnswer);
        # bodies are limited while they stream (apps/core/bodylimits.py), chunked ones given a length.
        # The client's address and scheme behind the TLS proxy, from what the trusted proxies
        # wrote only (apps/core/proxies.py, RTCC_TRUSTED_PROXIES), before anything reads them.
        # Every answer carries its X-Request-ID, and every log line written for it the same id
        # (apps/core/requestids.py).
        "http": RequestId(
            ForwardedFor(
                ChunkedBodyApp(DatabaseDownAnswer(CommandFastPath(LiveFastPath(django_asgi)))),
                settings.ENV.trusted_proxies,
            )
        ),
        # Device frames carry no Origin (firmware is not a browser); the console consumer
        # checks its own credentials (bearer token, or a session cookie from a same-site page).
        "websocket": RequestId(ForwardedFor(websocket, settings.ENV.trusted_proxies)),
    }
)

bodylimits.install()  # under daphne: refuse oversized or unauthorized bodies before reading them
presence_reset_at_start()  # embedded: no device socket is open yet, whatever the rows still say

if settings.ENV.embedded_beat and settings.EMBEDDED:
    start_embedded_scheduler()

# Everything loaded so far (Django, DRF, rtcc: over 100,000 objects) lives as long as the process:
# moved out of the collector's sight, so that a full collection no longer scans it (one took
# 0.1-0.2 s under load, a stall for every request and socket of the process).
gc.collect()
gc.freeze()
# What a thousand sockets keep is still a quarter of a million objects, and a full collection of
# them stalls the process 0.2-0.4 s. Under load (2,000 devices, 10 commands a second) one ran
# every 15-20 s with the default thresholds, because every object that outlives two young
# collections counts towards the next full one, even if it dies a moment later. A full
# collection waits for 100 middle ones (about 3 minutes under that load) instead of 10: 2 in a
# 2.5-minute benchmark run instead of 6 or 7, each unchanged in length. Young collections are
# left as they are: a larger first generation made each of them 20-30 ms.
gc.set_threshold(700, 10, 100)

# The event loop serves every socket and fast-path request of the process; worker threads (a live
# segment's PUT to the store, a first look, Django's sync views) hold the GIL in between. Python
# makes a thread that wants the GIL wait a switch interval (5 ms by default) before the holder is
# asked to let go, and a request that needs the loop several times paid it each time: at live
# view's full load (bench/live_view.py, 50 cameras, 200 viewers) the playlist p99 was 53-90 ms
# with 5 ms and 41-50 ms with 1 ms, the listing p99 76-150 ms against 81-83 ms, for the same CPU
# per request; the command path did not move (bench/command_latency.py).
sys.setswitchinterval(0.001)
