"""ASGI entry point: `daphne rtcc.asgi:application` serves HTTP, static files and both websockets."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtcc.settings")

from django.core.asgi import get_asgi_application

django_asgi = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from apps.control.routing import websocket_urlpatterns  # noqa: E402
from rtcc.scheduler import start_embedded_scheduler  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Static files from the apps' and the project's static folders, no collectstatic step.
        "http": ASGIStaticFilesHandler(django_asgi),
        # Device frames carry no Origin (firmware is not a browser); the console consumer
        # checks its own credentials (bearer token, or a session cookie from a same-site page).
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)

if os.environ.get("RTCC_EMBEDDED_BEAT", "true").lower() != "false" and settings.EMBEDDED:
    start_embedded_scheduler()
