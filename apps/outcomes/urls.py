"""API routes of apps.outcomes (mounted under /api/v1/)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("assists", apis.AssistsApi.as_view(), name="assists"),
    path("assists/suggestions", apis.AssistSuggestionsApi.as_view(), name="assist-suggestions"),
    path(
        "assists/suggestions/<uuid:briefing_id>/dismiss",
        apis.AssistSuggestionDismissApi.as_view(),
        name="assist-suggestion-dismiss",
    ),
    path("assists/<uuid:assist_id>", apis.AssistApi.as_view(), name="assist"),
    path("stats/outcomes", apis.OutcomeStatsApi.as_view(), name="stats-outcomes"),
    path("transparency", apis.TransparencyApi.as_view(), name="transparency"),
]
