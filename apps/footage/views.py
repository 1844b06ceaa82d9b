"""rtcc's own byte endpoints for the disk backend: signed, short-lived part uploads (`PUT /upload/<token>`).

Not under /api/: the URL itself is the credential (like an S3 presigned URL), the body is a raw
part streamed to disk in bounded chunks (daphne's ASGI handler has spooled it to a temporary file).
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from apps.core.errors import ApplicationError, error_response
from apps.integrations.storage import read_upload_token

from . import services


@csrf_exempt
def upload_part(request: HttpRequest, token: str):
    if request.method != "PUT":
        response = error_response(405, "method_not_allowed", "PUT the part's bytes to this URL.")
        response["Allow"] = "PUT"
        return response
    grant = read_upload_token(token)
    if grant is None:
        return error_response(403, "invalid_or_expired_url", "This upload URL is not valid or has expired.")
    raw = request.META.get("CONTENT_LENGTH")
    content_length = int(raw) if raw and raw.isdigit() else None
    try:
        part = services.part_receive(
            key=grant["key"],
            upload_id=grant["upload_id"],
            number=grant["number"],
            length=grant["length"],
            stream=request,
            content_length=content_length,
        )
    except ApplicationError as exc:
        return error_response(exc.status, exc.code, exc.message)
    response = JsonResponse({"number": part.number, "size": part.size})
    response["ETag"] = f'"part-{part.number}-{part.size}"'
    return response
