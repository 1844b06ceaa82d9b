"""Every websocket route: the device socket (apps.control) and the console socket (apps.console)."""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter

from apps.console.routing import websocket_urlpatterns as console_urlpatterns
from apps.control.routing import websocket_urlpatterns as device_urlpatterns

websocket_urlpatterns = [*device_urlpatterns, *console_urlpatterns]
WEBSOCKET_PATHS = frozenset("/" + str(route.pattern) for route in websocket_urlpatterns)
CLOSE_NO_SUCH_SOCKET = 4404

_websocket_with_session = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
_websocket_plain = URLRouter(websocket_urlpatterns)


async def websocket(scope, receive, send):
    """Device sockets authenticate with their bearer token alone: no session or lazy user per
    socket (about 4 KiB each, thousands of sockets per process); the console keeps the session."""
    if scope["path"] not in WEBSOCKET_PATHS:
        return await _no_such_socket(scope, receive, send)
    app = _websocket_plain if scope["path"] == "/ws/device/" else _websocket_with_session
    return await app(scope, receive, send)


async def _no_such_socket(scope, receive, send):
    """An upgrade on a path with no socket: accepted only to be closed at once with 4404 and a
    reason naming the sockets there are (a handshake refused by daphne reads as a 403, and
    URLRouter's "No route found" was a bare 500)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.accept"})
        reason = f"No websocket at {scope['path'][:40]}: use {' or '.join(sorted(WEBSOCKET_PATHS))}."
        await send({"type": "websocket.close", "code": CLOSE_NO_SUCH_SOCKET, "reason": reason})
