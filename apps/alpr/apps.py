from django.apps import AppConfig


class AlprConfig(AppConfig):
    name = "apps.alpr"
    label = "alpr"
    verbose_name = "Plate readers"

    def ready(self) -> None:
        from apps.briefings.origins import register_origin

        from .models import Hit

        register_origin(
            "hit", lambda ids: dict(Hit.objects.filter(briefing_id__in=ids).values_list("briefing_id", "pk"))
        )
