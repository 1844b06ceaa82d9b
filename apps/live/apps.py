from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "apps.live"
    label = "live"
    verbose_name = "Live view"

    def ready(self) -> None:
        from . import receivers

        receivers.connect()
