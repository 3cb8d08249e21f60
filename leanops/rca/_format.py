"""Wording and number formatting shared by the rca results."""

from __future__ import annotations

import math

from .._format import duration


def fmt_duration(seconds: float) -> str:
    """A duration through the one formatter, :func:`leanops._format.duration` ('n/a' if missing).

    Examples
    --------
    >>> fmt_duration(100_000), fmt_duration(-5400), fmt_duration(None)
    ('1.2 d', '-1.5 h', 'n/a')
    """
    return duration(seconds, missing="n/a")


def fmt_num(x: float) -> str:
    """A threshold or value as a short string: integers stay integers, else 4 significant digits."""
    if x is None or not math.isfinite(x):
        return "n/a"
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    if 1000 <= abs(x) < 1e15:
        return f"{x:.0f}"
    return f"{x:.4g}"


def fmt_effect(x: float, unit: str) -> str:
    if unit == "s":
        return fmt_duration(x)
    if unit == "share":
        return f"{100 * x:.1f}"
    return fmt_num(round(x, 6) if x is not None and math.isfinite(x) else x)


# values that carry their own operator: thresholds, and "!= v" (the cases without a near-universal value)
_OPERATORS = (">=", "<=", "<", ">", "!= ")


def condition(feature: str, value: str) -> str:
    """The condition as text: ``channel = phone``, ``amount >= 10000``, ``priority != normal``."""
    return f"{feature} {value}" if value.startswith(_OPERATORS) else f"{feature} = {value}"


def condition_text(feature: str, value: str) -> str:
    """The condition in words, as the subject of a sentence ("cases with channel = phone")."""
    op = value.startswith(_OPERATORS)
    if feature == "involves":
        return f"cases involving {value}"
    if feature == "occurs":
        return f"cases where {value} occurs"
    if feature.startswith("any:"):
        return f"cases where {feature[4:]} is {value} at least once"
    if feature.startswith("resource@"):
        return f"cases where {feature[9:]} is done by {value}"
    if feature.startswith("count:"):
        return f"cases where {feature[6:]} is done {value.replace('>=', '>=').strip()} times"
    if feature.startswith("queue@"):
        return f"cases that found {value} instances waiting at {feature[6:]}"
    if feature == "variant":
        return f"cases following the variant {value}"
    if feature == "start_weekday":
        return f"cases started on {value}"
    if feature == "start_month":
        return f"cases started in {value}"
    if feature == "start_hour":
        return f"cases started at hour {value}"
    if feature == "wip_at_arrival":
        return f"cases arriving with {value} cases open"
    if feature == "handoffs":
        return f"cases with {value} handoffs"
    if feature.startswith("missing:"):
        what = feature[8:]
        return f"cases with a missing {what}" if value == "true" else f"cases without a missing {what}"
    if op:
        return f"cases with {feature} {value}"
    return f"cases with {feature} = {value}"
