"""Model instances from rows of hand-written SQL: for the few hot statements written once per
process instead of compiled by the ORM each time (live view's PUT lookup, the device's command
reports). Each column goes through the converters the ORM itself would apply."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection


class Columns:
    """A model's concrete columns as `alias.column` SQL, with what turns their values back into
    the model's attribute values."""

    def __init__(self, model: type, alias: str) -> None:
        fields = model._meta.concrete_fields  # type: ignore[attr-defined]
        q = connection.ops.quote_name
        self.model = model
        self.names = [f.attname for f in fields]
        self.sql = [f"{alias}.{q(f.column)}" for f in fields]
        self.converters = []
        for field in fields:
            col = field.get_col(alias)
            self.converters.append((col, connection.ops.get_db_converters(col) + field.get_db_converters(connection)))

    def instance(self, values: Sequence[Any]) -> Any:
        """The model instance of these values, in `sql` order (exactly as many)."""
        converted = []
        for value, (col, functions) in zip(values, self.converters, strict=True):
            for function in functions:
                value = function(value, col, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, self.names, converted)  # type: ignore[attr-defined]
