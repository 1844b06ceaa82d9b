from django.apps import AppConfig

from apps.integrations.storage import register_guard


class FootageConfig(AppConfig):
    name = "apps.footage"
    label = "footage"

    def ready(self) -> None:
        from .byte_urls import KEY_PREFIX, ClipObjects  # models are loaded only now

        register_guard(KEY_PREFIX, ClipObjects())
