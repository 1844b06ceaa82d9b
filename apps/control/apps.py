from django.apps import AppConfig


class ControlConfig(AppConfig):
    name = "apps.control"
    label = "control"

    def ready(self) -> None:
        from . import receivers

        receivers.connect()
