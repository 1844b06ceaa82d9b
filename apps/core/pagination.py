"""The contract's list shape: {"count", "next", "previous", "results"}, built in one place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.response import Response

from .filters import list_params, refuse_unknown_params


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        self.check_page_params(request, view)
        return super().paginate_queryset(queryset, request, view)

    def check_page_params(self, request, view=None) -> None:
        """An unusable page or page_size, or a parameter the list does not read (its view's
        `list_filters` / `list_params`), is the caller's mistake (400), never silently ignored."""
        refuse_unknown_params(request.query_params, list_params(view))
        for name in (self.page_query_param, self.page_size_query_param):
            value = request.query_params.get(name)
            # ASCII digits only ("²".isdigit() is true), and at most 9 of them (no 64-bit overflow).
            if value is not None and not (
                value.isascii() and value.isdecimal() and len(value) <= 9 and int(value) >= 1
            ):
                raise ValidationError({name: ["Must be a whole number of at least 1."]})
        size = request.query_params.get(self.page_size_query_param)
        if size is not None and int(size) > self.max_page_size:  # a smaller page than asked would pass unseen
            raise ValidationError({self.page_size_query_param: [f"Must be at most {self.max_page_size}."]})


def paginated_response(
    *,
    queryset: Any,
    request: Any,
    view: Any,
    serialize: Callable[[Sequence[Any]], Any],
    pagination_class: type[BasePagination] = StandardPagination,
) -> Response:
    """One page of `queryset` as the contract's list: `serialize` turns the page's rows into
    its results (e.g. `lambda page: ThingOut(page, many=True).data`)."""
    paginator = pagination_class()
    page: Sequence[Any] = paginator.paginate_queryset(queryset, request, view=view) or []
    return paginator.get_paginated_response(serialize(page))
