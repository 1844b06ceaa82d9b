"""Input and output shapes for the accounts API."""

from rest_framework import serializers

from apps.core.fields import StrictBooleanField, StrictCharField, StrictRegexField

from .models import Role, User


class UserOut(serializers.ModelSerializer):
    role = StrictCharField(source="effective_role")

    class Meta:
        model = User
        fields = ["id", "username", "role", "full_name", "badge_number", "is_active"]


class LoginIn(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=256, trim_whitespace=False)
    otp = StrictCharField(max_length=16, required=False, allow_blank=True)


class UserCreateIn(serializers.Serializer):
    username = StrictRegexField(r"^[\w.@+-]+$", max_length=150)
    password = StrictCharField(max_length=256, trim_whitespace=False)
    role = serializers.ChoiceField(choices=Role.values)
    full_name = StrictCharField(max_length=150, required=False, allow_blank=True, default="")
    badge_number = StrictCharField(max_length=32, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class UserUpdateIn(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.values, required=False)
    full_name = StrictCharField(max_length=150, required=False, allow_blank=True)
    badge_number = StrictCharField(max_length=32, required=False, allow_blank=True)
    is_active = StrictBooleanField(required=False)
    password = StrictCharField(max_length=256, required=False, trim_whitespace=False)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: ["Not a field that can be changed."] for name in unknown})
        if not attrs:
            raise serializers.ValidationError("Nothing to change.")
        return attrs


class UserFilterIn(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.values, required=False)
