"""Console login and logout, on Django sessions, with the same lockout and audit as the API."""

from __future__ import annotations

from django.contrib.auth import logout
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods

from apps.audit.services import AuditContext, audit_record
from apps.core.errors import ApplicationError

from . import services
from .sessions import session_login


@require_http_methods(["GET", "POST"])
def login_view(request):
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    error = None
    status = 200
    headers: dict = {}
    if request.method == "POST":
        try:
            user = services.login_check(
                username=request.POST.get("username", ""),
                password=request.POST.get("password", ""),
                otp=request.POST.get("otp") or None,
                context=AuditContext.of(request),
            )
        except ApplicationError as exc:
            error, status, headers = exc.message, exc.status, dict(exc.headers or {})
        else:
            session_login(request, user)
            return redirect(next_url)
    response = render(request, "accounts/login.html", {"error": error, "next": next_url}, status=status)
    for key, value in headers.items():
        response[key] = value
    return response


@require_http_methods(["POST"])
def logout_view(request):
    if request.user.is_authenticated:
        audit_record(action="auth.logout", obj=request.user, context=AuditContext.of(request))
    logout(request)
    return redirect("/login/")


@require_http_methods(["GET", "POST"])
def admin_login_view(request):
    """The Django admin has no login of its own: it is behind the console login (one policy)."""
    next_url = request.POST.get("next") or request.GET.get("next") or "/admin/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/admin/"
    return HttpResponseRedirect(f"/login/?{urlencode({'next': next_url})}")
