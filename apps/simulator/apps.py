from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    """Devices as firmware would be: a Django app only so that `simulate_fleet` is found."""

    name = "apps.simulator"
    label = "simulator"
