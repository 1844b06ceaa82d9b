from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "apps.leads"
    label = "leads"
    verbose_name = "Investigative leads"

    def ready(self) -> None:
        from apps.briefings.origins import register_origin
        from apps.briefings.services import register_media_namer

        from .models import LeadBriefing
        from .selectors import candidate_photos_named

        register_origin(
            "lead",
            lambda ids: dict(LeadBriefing.objects.filter(briefing_id__in=ids).values_list("briefing_id", "lead_id")),
        )
        register_media_namer(candidate_photos_named)
