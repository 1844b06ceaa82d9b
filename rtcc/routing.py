"""Every websocket route: the device socket (apps.control) and the console socket (apps.console)."""

from apps.console.routing import websocket_urlpatterns as console_urlpatterns
from apps.control.routing import websocket_urlpatterns as device_urlpatterns

websocket_urlpatterns = [*device_urlpatterns, *console_urlpatterns]
