from django.apps import AppConfig


class CountersConfig(AppConfig):
    name = "apps.counters"
    label = "counters"
    verbose_name = "Activity counters"
