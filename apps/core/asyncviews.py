"""Serving a DRF view from the event loop: the whole view (authentication, permissions,
validation, its transaction) in ONE hop to a thread, then what it published after commit sent
from the loop (apps.core.realtime.run_then_send), before the answer goes out.

A sync DRF view under daphne costs several hops between the event loop and a thread, and each
group message published after commit one more (async_to_sync from the view's thread); for the
command endpoint those hops were most of the time between the operator's POST and the device
hearing of the command. The view itself is unchanged: same classes, same errors, same schema.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import SimpleTemplateResponse

from .realtime import run_then_send


def _rendered(view: Callable[..., HttpResponse], request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Runs the view and renders its answer in this thread: a response still to render would cost
    Django's async handler one more hop (it renders deferred responses with sync_to_async)."""
    response = view(request, *args, **kwargs)
    if not isinstance(response, SimpleTemplateResponse):
        return response
    response.render()
    plain = HttpResponse(response.content, status=response.status_code)
    for header, value in response.items():
        plain[header] = value
    plain.cookies = response.cookies
    return plain


def one_hop(view: Callable[..., HttpResponse]) -> Callable[..., Any]:
    """`path(..., one_hop(SomeApi.as_view()))`: the DRF view served from an async callback that
    keeps the view's attributes (drf-spectacular's `cls`, `csrf_exempt`, ...)."""

    @functools.wraps(view)
    async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return await run_then_send(_rendered, view, request, *args, **kwargs)

    return async_view
