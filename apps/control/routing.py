from django.urls import path

from .consumers import ConsoleConsumer, DeviceConsumer

websocket_urlpatterns = [
    path("ws/device/", DeviceConsumer.as_asgi()),
    path("ws/console/", ConsoleConsumer.as_asgi()),
]
