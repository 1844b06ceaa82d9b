"""The statistics and transparency charts read true: each rule's label is the value a bar reaching
that rule stands for (apps/outcomes/charts.py)."""

import re

import pytest

from apps.outcomes.charts import column_chart


def rules_and_bars(svg: str) -> tuple[dict[int, float], list[tuple[int, float]]]:
    """({label: the rule's y}, [(a bar's value, the y of its top)])."""
    rules = {}
    for y, label in re.findall(r'<line [^>]*y1="([\d.]+)"[^>]*/><text [^>]*class="chart-axis">(\d+)</text>', svg):
        rules[int(label)] = float(y)
    bars = [(int(v), float(y)) for y, v in re.findall(r'<rect [^>]*y="([\d.]+)"[^>]*><title>[^<]*: (\d+)</title>', svg)]
    return rules, bars


@pytest.mark.parametrize("peak", [0, 1, 3, 5, 7, 9, 25, 77, 250, 999, 1234, 40000])
def test_a_bar_reaching_a_rule_stands_for_that_rules_label(peak):
    values = [peak, *sorted({0, peak // 4, peak // 2, peak})]
    svg = column_chart(title="Assists", labels=[str(n) for n in range(len(values))], values=values)
    rules, bars = rules_and_bars(str(svg))
    assert len(rules) == 5
    top = max(rules)
    assert top >= peak and all(label * 4 % top == 0 for label in rules)  # whole-number rules, evenly spaced
    bottom_y, top_y = rules[0], rules[top]
    for value, y in bars:
        # the bar's top sits where the axis puts its value
        assert y == pytest.approx(bottom_y + (top_y - bottom_y) * value / top, abs=0.11)
        if value in rules:
            assert y == pytest.approx(rules[value], abs=0.11)


def test_one_assist_reaches_the_rule_labelled_1():
    # The probe's case: a single assist drew a bar below the rule labelled 1.
    rules, bars = rules_and_bars(str(column_chart(title="Assists", labels=["Nov"], values=[1])))
    assert sorted(rules) == [0, 1, 2, 3, 4]
    assert bars == [(1, pytest.approx(rules[1], abs=0.11))]
