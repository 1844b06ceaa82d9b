"""The accounts API: token login and logout, users (IT)."""

from __future__ import annotations

from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.pagination import StandardPagination

from . import services
from .models import ApiToken, Role, User
from .permissions import HasRole, IsPerson
from .serializers import LoginIn, UserCreateIn, UserFilterIn, UserOut, UserUpdateIn


class TokenApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=LoginIn, responses={200: dict})
    def post(self, request):
        data = LoginIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.login_check(request=request, **data.validated_data)
        token, record = services.token_issue(user=user, request=request)
        return Response({"token": token, "expires_at": record.expires_at, "user": UserOut(user).data})


class LogoutApi(APIView):
    permission_classes = [IsPerson]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        if isinstance(request.auth, ApiToken):
            services.token_revoke(token=request.auth, request=request)
        else:
            from django.contrib.auth import logout

            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    permission_classes = [IsPerson]

    @extend_schema(responses=UserOut)
    def get(self, request):
        return Response(UserOut(request.user).data)


class OtpIn(serializers.Serializer):
    otp = serializers.CharField(max_length=16)


class MfaApi(APIView):
    """Set up (POST), confirm (POST .../confirm) or turn off (DELETE, with a code) the second factor."""

    permission_classes = [IsPerson]

    @extend_schema(request=None, responses={201: dict})
    def post(self, request):
        secret, uri = services.mfa_begin(user=request.user, request=request)
        return Response({"secret": secret, "otpauth_uri": uri}, status=status.HTTP_201_CREATED)

    @extend_schema(request=OtpIn, responses={204: None})
    def delete(self, request):
        data = OtpIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.mfa_disable(user=request.user, otp=data.validated_data["otp"], request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MfaConfirmApi(APIView):
    permission_classes = [IsPerson]

    @extend_schema(request=OtpIn, responses={204: None})
    def post(self, request):
        data = OtpIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.mfa_confirm(user=request.user, otp=data.validated_data["otp"], request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UsersApi(APIView):
    permission_classes = [HasRole(Role.IT)]

    @extend_schema(parameters=[UserFilterIn], responses=UserOut(many=True))
    def get(self, request):
        filters = UserFilterIn(data=request.query_params)
        filters.is_valid(raise_exception=True)
        users = User.objects.order_by("username")
        if role := filters.validated_data.get("role"):
            # by effective role: a superuser is IT whatever its stored role
            users = (
                users.filter(Q(role=role) | Q(is_superuser=True))
                if role == Role.IT
                else users.filter(role=role, is_superuser=False)
            )
        paginator = StandardPagination()
        page = paginator.paginate_queryset(users, request, view=self)
        return paginator.get_paginated_response(UserOut(page, many=True).data)

    @extend_schema(request=UserCreateIn, responses={201: UserOut})
    def post(self, request):
        data = UserCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(actor=request.user, request=request, **data.validated_data)
        return Response(UserOut(user).data, status=status.HTTP_201_CREATED)


class UserDetailApi(APIView):
    permission_classes = [HasRole(Role.IT)]

    @extend_schema(responses=UserOut)
    def get(self, request, user_id):
        return Response(UserOut(get_object_or_404(User, pk=user_id)).data)

    @extend_schema(request=UserUpdateIn, responses=UserOut)
    def patch(self, request, user_id):
        user = get_object_or_404(User, pk=user_id)
        data = UserUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_update(user=user, actor=request.user, request=request, **data.validated_data)
        return Response(UserOut(user).data)


class UserMfaResetApi(APIView):
    permission_classes = [HasRole(Role.IT)]

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, user_id):
        services.mfa_reset(user=get_object_or_404(User, pk=user_id), actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
