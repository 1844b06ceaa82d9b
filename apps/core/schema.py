"""OpenAPI descriptions of rtcc's authentication schemes (loaded by CoreConfig.ready), and the hook that makes
the schema describe what is served (paginated lists, error answers)."""

import copy
from typing import Any

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


# The schema describes what is served (a postprocessing hook, SPECTACULAR_SETTINGS) ---------------

# Lists served as a bare JSON array, not a page (none: every list of the contract is a page).
BARE_LISTS: frozenset[str] = frozenset()
# Refusals the rules below do not imply: a wrong password (401), a wrong enrollment code (403),
# too many failures (429: the login lockout, the enrollment throttle), no local outbox when pushes
# go to FCM (404).
OWN_REFUSALS = {
    "POST /api/v1/auth/token": ("401", "429"),
    "POST /api/v1/enroll": ("403", "429"),
    "GET /api/v1/me/outbox": ("404",),
}

ERROR_MEANINGS = {
    "400": "The request is malformed or not valid (an unknown query parameter included); `fields` names the culprits.",
    "401": "No credentials, or credentials that are wrong, expired or revoked.",
    "403": "Authenticated, but this role (or this device kind) may not do this.",
    "404": "No such object, or not one this caller may see.",
    "409": "The object's state does not allow this now.",
    "413": "The request body is over the limit.",
    "415": "The request body is not of a media type this operation reads.",
    "429": "Too many attempts; `Retry-After` says when to try again.",
    "503": "A service rtcc needs (its database, Redis or the object store) cannot be reached now; nothing was"
    " changed, and `Retry-After` says when to try again.",
}

# Errors whose envelope carries details of their own (the contract's upload_incomplete lists the
# missing part numbers): (operation, status) -> (component name, extra properties of "error").
ERROR_DETAILS = {
    ("POST /api/v1/clips/{clip_id}/complete", "409"): (
        "UploadIncompleteError",
        {"missing": {"type": "array", "items": {"type": "integer"}, "description": "Part numbers still missing."}},
    ),
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": 'The contract\'s error envelope: {"error": {"code", "message", "fields"}}.',
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "A stable snake_case code."},
                "message": {"type": "string", "description": "A human sentence."},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "Field name -> its messages (dotted for nested fields).",
                },
            },
            "required": ["code", "message"],
            # Some errors say more beside these (the entry already on the list, the lines an
            # import refused, retry_after): the contract leaves clients free to read extra keys.
            "additionalProperties": True,
        }
    },
    "required": ["error"],
    "additionalProperties": False,
}

PAGE_PARAMETERS = [
    {
        "in": "query",
        "name": "page",
        "required": False,
        "description": "Page number, from 1.",
        "schema": {"type": "integer", "minimum": 1},
    },
    {
        "in": "query",
        "name": "page_size",
        "required": False,
        "description": "Items per page (default 50, at most 500).",
        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
    },
]


def _page_schema(items: dict) -> dict:
    return {
        "type": "object",
        "description": "One page of the list (the contract's pagination).",
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            "next": {"type": "string", "format": "uri", "nullable": True},
            "previous": {"type": "string", "format": "uri", "nullable": True},
            "results": items,
        },
        "required": ["count", "next", "previous", "results"],
    }


def _error_codes(name: str, method: str, operation: dict, *, paginated: bool) -> list[str]:
    secured = any(requirement for requirement in operation.get("security", [{}]))
    has_body = "requestBody" in operation
    codes = ["400", *OWN_REFUSALS.get(name, ())]
    if secured:
        codes += ["401", "403"]
    if "{" in name or paginated:  # a page past the last one is a 404 ("Invalid page.")
        codes.append("404")
    if method != "get":
        codes.append("409")
    if has_body or method in ("post", "put", "patch"):  # a body sent where none is read is judged too
        codes += ["413", "415"]
    codes.append("503")  # every operation, when the database or a store is away (Retry-After)
    return sorted(set(codes))


def describe_served_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: paginated lists as the page object they are served as
    (`apps.core.pagination`), and every operation's error answers with the error envelope."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    for component, extra in ERROR_DETAILS.values():
        detailed = copy.deepcopy(ERROR_SCHEMA)
        detailed["properties"]["error"]["properties"].update(extra)
        components[component] = detailed
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            name = f"{method.upper()} {path}"
            responses = operation.setdefault("responses", {})
            listed = responses.get("200", {}).get("content", {}).get("application/json", {})
            schema = listed.get("schema", {})
            paginated = method == "get" and path not in BARE_LISTS and "count" in schema.get("properties", {})
            if method == "get" and schema.get("type") == "array" and path not in BARE_LISTS:
                listed["schema"] = _page_schema(schema)
                paginated = True
            if paginated and not any(p["name"] == "page" for p in operation.get("parameters", [])):
                operation["parameters"] = [*operation.get("parameters", []), *PAGE_PARAMETERS]
            for code in _error_codes(name, method, operation, paginated=paginated):
                component = ERROR_DETAILS.get((name, code), ("Error",))[0]
                responses.setdefault(
                    code,
                    {
                        "description": ERROR_MEANINGS[code],
                        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
                    },
                )
    return result
