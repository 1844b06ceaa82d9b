from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from . import requestids, schema  # noqa: F401 - the task signals; the OpenAPI auth extensions
