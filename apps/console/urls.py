"""The console's pages (not under /api/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="console-home"),
    path("phone/", views.phone, name="console-phone"),
    path("fleet/", views.fleet, name="console-fleet"),
    path("live/<uuid:live_id>/", views.live_view, name="console-live"),
    path("map/", views.map_view, name="console-map"),
    path("incidents/", views.incidents, name="console-incidents"),
    path("briefings/new/", views.briefing_new, name="console-briefing-new"),
    path("briefings/<uuid:briefing_id>/", views.briefing_board, name="console-briefing"),
    path("alpr/hits/", views.hits, name="console-hits"),
    path("alpr/hotlists/", views.hotlists, name="console-hotlists"),
    path("alpr/plates/", views.plates, name="console-plates"),
    path("footage/", views.footage, name="console-footage"),
    path("footage/<uuid:clip_id>/", views.clip_detail, name="console-clip"),
    path("devices/", views.devices, name="console-devices"),
    path("users/", views.users, name="console-users"),
    path("leads/", views.leads, name="console-leads"),
    path("leads/<uuid:lead_id>/", views.lead_detail, name="console-lead"),
    path("assists/", views.assists, name="console-assists"),
    path("statistics/", views.statistics, name="console-statistics"),
    path("transparency/", views.transparency, name="transparency"),
    path("console/qr", views.qr, name="console-qr"),
]
