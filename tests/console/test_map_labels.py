"""The console's map (static/console/js/mapdraw.js) in Chromium: labels of marks close together
never cover each other (plate reads at one spot, a camera beside its officer's phone)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

DRAW = """async (units) => {
  const src = document.querySelector("script[type=module]").src;
  const { drawMap } = await import(new URL("mapdraw.js", src));
  const svg = document.querySelector("svg.map");
  drawMap(svg, { units, scenes: [{ id: "s", lat: 40.7, lon: -74.0, radius_m: 200, title: "Elm St", active: true }] });
  const boxes = [...svg.querySelectorAll("[data-unit] text, [data-scene] text")].map((t) => t.getBBox());
  const overlaps = boxes.flatMap((a, i) => boxes.slice(i + 1).filter((b) =>
    a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height));
  return { marks: svg.querySelectorAll("[data-unit]").length, labels: boxes.length, overlaps: overlaps.length,
           titles: [...svg.querySelectorAll("[data-unit] title")].map((t) => t.textContent) };
}"""


def test_labels_of_marks_at_one_spot_never_cover_each_other(open_as, operator):
    page = open_as(operator, "/alpr/plates/")
    same_spot = [
        {"id": f"r{n}", "kind": "alpr", "lat": 40.7, "lon": -74.0, "online": True, "label": f"ABC12{n} 12:0{n}"}
        for n in range(4)
    ]
    apart = {"id": "far", "kind": "phone", "lat": 40.71, "lon": -74.01, "online": True, "label": "Unit 7"}
    drawn = page.evaluate(DRAW, [*same_spot, apart])
    assert drawn["marks"] == 5  # every read keeps its mark
    assert drawn["overlaps"] == 0
    assert 3 <= drawn["labels"] <= 4  # the scene, one side each of the spot (the rest in tooltips), the far one
    assert sorted(drawn["titles"]) == sorted(u["label"] for u in [*same_spot, apart])
    assert not page.errors
