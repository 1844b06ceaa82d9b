from django.urls import path

from . import apis

urlpatterns = [
    path("auth/token", apis.TokenApi.as_view(), name="auth-token"),
    path("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("me", apis.MeApi.as_view(), name="me"),
    path("me/mfa", apis.MfaApi.as_view(), name="me-mfa"),
    path("me/mfa/confirm", apis.MfaConfirmApi.as_view(), name="me-mfa-confirm"),
    path("users", apis.UsersApi.as_view(), name="users"),
    path("users/<uuid:user_id>", apis.UserDetailApi.as_view(), name="user-detail"),
    path("users/<uuid:user_id>/mfa", apis.UserMfaResetApi.as_view(), name="user-mfa-reset"),
]
