from django.apps import AppConfig


class FootageConfig(AppConfig):
    name = "apps.footage"
    label = "footage"
