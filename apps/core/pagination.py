"""The contract's list shape: {"count", "next", "previous", "results"}, built in one place."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from django.db.models import IntegerField, QuerySet, Subquery
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

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


class CappedCountPagination(StandardPagination):
    """A search's page over a table too big to count whole on every request. It reads one row past
    the page (so `next` is exact) and counts up to `count_cap()` in the same round trip; past the
    cap `count` is the planner's estimate and `"count_exact": false` is added. `count_column` is
    the column the count reads: one every filter's index holds, so the count is an index-only scan.
    After paginate_queryset, `total` and `exact` say what the page answers (e.g. for an audit)."""

    count_column = "pk"

    def count_cap(self) -> int:
        raise NotImplementedError

    def paginate_queryset(self, queryset, request, view=None):
        self.check_page_params(request, view)
        self.request = request
        self.page_size = self.get_page_size(request) or StandardPagination.page_size
        self.number = int(request.query_params.get(self.page_query_param, 1))
        offset = (self.number - 1) * self.page_size
        cap = self.count_cap()
        rows, counted = page_and_count(
            queryset, offset=offset, limit=self.page_size + 1, cap=cap, column=self.count_column
        )
        self.more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if self.number > 1 and not rows:
            raise NotFound("Invalid page.")
        self.total, self.exact = counted or 0, True
        if self.total > cap:  # past the cap: the planner's estimate, never below what is known
            estimate = estimated_count(queryset)
            if estimate is None:
                self.total = queryset.order_by().count()
            else:
                self.total, self.exact = max(estimate, self.total, offset + len(rows) + self.more), False
        return rows

    def get_next_link(self):
        if not self.more or self.request is None:
            return None
        return replace_query_param(self.request.build_absolute_uri(), self.page_query_param, self.number + 1)

    def get_previous_link(self):
        if self.number <= 1 or self.request is None:
            return None
        url = self.request.build_absolute_uri()
        if self.number == 2:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, self.number - 1)

    def get_paginated_response(self, data):
        body = {
            "count": self.total,
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
            "results": data,
        }
        if not self.exact:
            body["count_exact"] = False
        return Response(body)


def page_and_count(
    queryset: QuerySet, *, offset: int, limit: int, cap: int, column: str = "pk"
) -> tuple[list, int | None]:
    """(rows[offset:offset+limit], matches counted up to cap+1) in one round trip: the capped count
    rides along as a scalar subquery (PostgreSQL runs it once), over `column` only, so that it is
    an index-only scan. The count is None when the slice is empty."""
    counter = CountOf(queryset.select_related(None).order_by().values(column)[: cap + 1])
    rows = list(queryset.annotate(_matches=counter)[offset : offset + limit])
    return rows, (rows[0]._matches if rows else None)


class CountOf(Subquery):
    """The number of rows a (sliced) queryset yields, as a scalar subquery."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _matches)"
    output_field = IntegerField()


def estimated_count(queryset: QuerySet) -> int | None:
    """The planner's row estimate for this query (PostgreSQL), without running it."""
    if connection.vendor != "postgresql":
        return None
    plan = queryset.select_related(None).order_by().explain(format="json")
    try:
        return int(json.loads(plan)[0]["Plan"]["Plan Rows"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


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
