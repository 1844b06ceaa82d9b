"""The accounts API: token login and logout, users (IT)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.services import AuditContext
from apps.core.fields import StrictCharField
from apps.core.pagination import paginated_response

from . import selectors, services
from .models import ApiToken
from .permissions import IsIT, IsPerson
from .serializers import LoginIn, UserCreateIn, UserFilterIn, UserOut, UserUpdateIn


class TokenApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=LoginIn, responses={200: dict})
    def post(self, request):
        data = LoginIn(data=request.data)
        data.is_valid(raise_exception=True)
        context = AuditContext.of(request)
        user = services.login_check(context=context, **data.validated_data)
        token, record = services.token_issue(user=user, context=context.as_actor(user))
        return Response({"token": token, "expires_at": record.expires_at, "user": UserOut(user).data})


class LogoutApi(APIView):
    permission_classes = [IsPerson]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        if isinstance(request.auth, ApiToken):
            services.token_revoke(token=request.auth, context=AuditContext.of(request))
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
    otp = StrictCharField(max_length=16)


class MfaApi(APIView):
    """Set up (POST), confirm (POST .../confirm) or turn off (DELETE, with a code) the second factor."""

    permission_classes = [IsPerson]

    @extend_schema(request=None, responses={201: dict})
    def post(self, request):
        secret, uri = services.mfa_begin(user=request.user, context=AuditContext.of(request))
        return Response({"secret": secret, "otpauth_uri": uri}, status=status.HTTP_201_CREATED)

    @extend_schema(request=OtpIn, responses={204: None})
    def delete(self, request):
        data = OtpIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.mfa_disable(user=request.user, otp=data.validated_data["otp"], context=AuditContext.of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MfaConfirmApi(APIView):
    permission_classes = [IsPerson]

    @extend_schema(request=OtpIn, responses={204: None})
    def post(self, request):
        data = OtpIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.mfa_confirm(user=request.user, otp=data.validated_data["otp"], context=AuditContext.of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UsersApi(APIView):
    permission_classes = [IsIT]
    list_filters = UserFilterIn

    @extend_schema(parameters=[UserFilterIn], responses=UserOut(many=True))
    def get(self, request):
        filters = UserFilterIn(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginated_response(
            queryset=selectors.user_list(**filters.validated_data),
            request=request,
            view=self,
            serialize=lambda page: UserOut(page, many=True).data,
        )

    @extend_schema(request=UserCreateIn, responses={201: UserOut})
    def post(self, request):
        data = UserCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(actor=request.user, context=AuditContext.of(request), **data.validated_data)
        return Response(UserOut(user).data, status=status.HTTP_201_CREATED)


class UserDetailApi(APIView):
    permission_classes = [IsIT]

    @extend_schema(responses=UserOut)
    def get(self, request, user_id):
        return Response(UserOut(selectors.user_get(user_id=user_id)).data)

    @extend_schema(request=UserUpdateIn, responses=UserOut)
    def patch(self, request, user_id):
        user = selectors.user_get(user_id=user_id)
        data = UserUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_update(
            user=user, actor=request.user, context=AuditContext.of(request), **data.validated_data
        )
        return Response(UserOut(user).data)


class UserMfaResetApi(APIView):
    permission_classes = [IsIT]

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, user_id):
        services.mfa_reset(
            user=selectors.user_get(user_id=user_id), actor=request.user, context=AuditContext.of(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
