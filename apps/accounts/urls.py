from django.urls import path

from . import apis

urlpatterns = [
    path("auth/token", apis.TokenApi.as_view(), name="auth-token"),
    path("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("me", apis.MeApi.as_view(), name="me"),
    path("me/mfa", apis.MfaApi.as_view(), name="me-mfa"),
    path("me/mfa/confirm", apis.MfaConfirmApi.as_view(), name="me-mfa-confirm"),
    path("users", apis.UsersApi.as_view(), name="users"),
]
