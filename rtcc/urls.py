"""Top-level routes: the API under /api/v1/, service endpoints, the console pages."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.accounts import views as account_views
from apps.integrations import health

api_v1 = [
    path("", include("apps.accounts.urls")),
    path("", include("apps.devices.urls")),
    path("", include("apps.control.urls")),
    path("", include("apps.footage.urls")),
    path("", include("apps.briefings.urls")),
    path("", include("apps.alpr.urls")),
    path("", include("apps.live.urls")),
    path("", include("apps.leads.urls")),
    path("", include("apps.outcomes.urls")),
]

handler500 = "apps.core.middleware.server_error"  # a database down is a 503, for pages as for the API

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("admin/login/", account_views.admin_login_view),  # the console login, one policy
    path("admin/", admin.site.urls),
    path("login/", account_views.login_view, name="login"),
    path("logout/", account_views.logout_view, name="logout"),
    path("", include("apps.integrations.urls")),  # the disk backend's signed byte URLs (/upload/, /download/)
    path("", include("apps.console.urls")),
]
