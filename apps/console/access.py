"""Who may open which console page: every page names its roles, checked on the server."""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.views.decorators.csrf import ensure_csrf_cookie


@dataclass(frozen=True)
class Page:
    name: str  # URL name
    title: str
    roles: tuple[str, ...]


# In navigation order. An IT admin sees the fleet wall read-only (no commands).
PAGES = [
    Page("console-phone", "Phone", ("officer",)),
    Page("console-fleet", "Fleet", ("operator", "it")),
    Page("console-map", "Map", ("operator",)),
    Page("console-incidents", "Incidents", ("operator",)),
    Page("console-hits", "Hits", ("operator",)),
    Page("console-hotlists", "Hotlists", ("operator", "it")),
    Page("console-plates", "Plates", ("operator", "clerk")),
    Page("console-footage", "Footage", ("clerk",)),
    Page("console-leads", "Leads", ("operator", "clerk")),
    Page("console-assists", "Assists", ("operator", "clerk")),
    Page("console-statistics", "Statistics", ("operator", "clerk", "it")),
    Page("console-devices", "Devices", ("it",)),
    Page("console-users", "Users", ("it",)),
]

PAGE_ROLES = {page.name: page.roles for page in PAGES}

# Where each role starts after signing in.
LANDING = {"officer": "console-phone", "operator": "console-fleet", "clerk": "console-footage", "it": "console-devices"}


def role_of(user) -> str | None:
    if not (user and user.is_authenticated and hasattr(user, "effective_role") and user.is_active):
        return None
    return user.effective_role


def pages_for(user) -> list[Page]:
    role = role_of(user)
    return [page for page in PAGES if role in page.roles]


def role_required(*roles: str):
    """Anonymous -> the login page; a person of another role -> 403; and the CSRF cookie is set
    so the page's scripts can call the API with the session."""

    def decorator(view):
        @wraps(view)
        @ensure_csrf_cookie
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if role_of(request.user) not in roles:
                raise PermissionDenied("This page is not for your role.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
