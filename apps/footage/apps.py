from django.apps import AppConfig


class FootageConfig(AppConfig):
    name = "apps.footage"
    label = "footage"

    def ready(self) -> None:
        from apps.integrations.storage import register_guard  # loaded only now, like the models

        from .byte_urls import KEY_PREFIX, ClipObjects

        register_guard(KEY_PREFIX, ClipObjects())
