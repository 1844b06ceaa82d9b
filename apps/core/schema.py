"""OpenAPI descriptions of rtcc's authentication schemes (loaded by CoreConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class UserTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.UserTokenAuthentication"
    name = "userToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A person's token from POST /api/v1/auth/token"}


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.devices.authentication.DeviceTokenAuthentication"
    name = "deviceToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A device's token from POST /api/v1/enroll"}


class ConsoleSessionScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.ConsoleSessionAuthentication"
    name = "consoleSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
