"""What a briefing was made from, as the apps above briefings know it: a lead shared
(`lead`), a confirmed plate hit briefed (`hit`). Each registers a lookup in its
AppConfig.ready; an operator's view of a briefing names its origin, as the 201 that made it did."""

from __future__ import annotations

from collections.abc import Callable, Iterable

# field -> lookup({briefing ids}) -> {briefing id: id of the origin}
_origins: dict[str, Callable[[list], dict]] = {}


def register_origin(field: str, lookup: Callable[[list], dict]) -> None:
    _origins[field] = lookup


def origins_of(briefing_ids: Iterable) -> dict:
    """{briefing id: {field: origin id as text}} for the briefings that have one."""
    ids = list(briefing_ids)
    found: dict = {}
    if not ids:
        return found
    for field, lookup in _origins.items():
        for briefing_id, origin_id in lookup(ids).items():
            found.setdefault(briefing_id, {})[field] = str(origin_id)
    return found
