"""Charts of root causes (matplotlib, imported lazily): Pareto, effects with CIs, fishbone,
and waiting-time causes. Each function draws on ``ax`` (or a new figure) and returns the Axes."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np

from ._format import condition, fmt_duration
from .features import CATEGORIES

if TYPE_CHECKING:  # pragma: no cover
    from .drivers import RootCauses
    from .waiting import WaitingCauses

__all__ = ["pareto", "effects", "fishbone", "waiting", "to_svg"]

_COLORS = {"people": "#4C72B0", "method": "#DD8452", "material": "#55A868", "environment": "#C44E52",
           "measurement": "#8172B3"}
_WAIT_COLORS = {"batching": "#8172B3", "contention": "#C44E52", "prioritisation": "#DD8452",
                "unavailability": "#4C72B0", "extraneous": "#937860"}


def _text(s: str, limit: int = 48) -> str:
    """A label safe for matplotlib (no mathtext from '$' in names) and short enough to read."""
    s = str(s).replace("$", r"\$")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _axes(ax, size=(8, 4.5)):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig.add_subplot()


def _label(c) -> str:
    return _text(condition(c.feature, c.value))


def _scale(unit: str, values) -> tuple[float, str]:
    if unit == "s":
        m = float(np.nanmax(np.abs(values))) if len(values) else 0.0
        for div, name in ((86400, "days"), (3600, "hours"), (60, "minutes")):
            if m >= 2 * div:
                return float(div), name
        return 1.0, "seconds"
    if unit == "share":
        return 0.01, "percentage points"
    return 1.0, unit


def _empty(ax, msg: str):
    ax.text(0.5, 0.5, _text(msg, 90), ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    return ax


def pareto(rc: "RootCauses", *, ax=None):
    """Causes ordered by impact (effect x cases) as bars, with the cumulative share as a line."""
    ax = _axes(ax)
    if not rc.causes:
        return _empty(ax, rc.reason or "no causes")
    cs = sorted(rc.causes, key=lambda c: -abs(c.effect) * c.n_cases)
    impact = np.array([abs(c.effect) * c.n_cases for c in cs])
    div, name = _scale(rc.baseline.get("unit", "value"), impact)
    x = np.arange(len(cs))
    ax.bar(x, impact / div, color=[_COLORS.get(c.category, "grey") for c in cs])
    ax.set_xticks(x, [_label(c) for c in cs], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel(f"total excess ({name})" if rc.baseline.get("unit") == "s" else "total excess")
    ax2 = ax.twinx()
    ax2.plot(x, 100 * np.cumsum(impact) / impact.sum(), color="black", marker="o", lw=1)
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("cumulative %")
    ax.set_title(_text(f"Pareto of causes: {rc.target}", 80))
    return ax


def effects(rc: "RootCauses", *, ax=None):
    """Each cause's effect with its 95 % CI (horizontal error bars), rank 1 on top."""
    ax = _axes(ax, (8, 0.45 * max(len(rc.causes), 3) + 1.2))
    if not rc.causes:
        return _empty(ax, rc.reason or "no causes")
    cs = rc.causes
    eff = np.array([c.effect for c in cs])
    lo = np.array([c.ci_low for c in cs])
    hi = np.array([c.ci_high for c in cs])
    div, name = _scale(cs[0].effect_unit, np.r_[eff, lo, hi])
    y = np.arange(len(cs))[::-1]
    err = np.vstack([np.clip(eff - lo, 0, None), np.clip(hi - eff, 0, None)]) / div
    ax.errorbar(eff / div, y, xerr=np.nan_to_num(err), fmt="none", ecolor="black", capsize=3, lw=1)
    ax.scatter(eff / div, y, c=[_COLORS.get(c.category, "grey") for c in cs], zorder=3)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, [_label(c) for c in cs], fontsize=8)
    ax.set_xlabel(f"effect ({name}), 95% CI")
    ax.set_title(_text(f"Effects on {rc.target}", 80))
    return ax


def fishbone(rc: "RootCauses", *, ax=None, per_bone: int = 3):
    """An Ishikawa summary: one bone per category with its strongest causes, the target as head."""
    ax = _axes(ax, (10, 5))
    ax.set_xlim(0, 10)
    ax.set_ylim(-5, 5)
    ax.set_axis_off()
    ax.annotate("", xy=(8.6, 0), xytext=(0.3, 0), arrowprops={"arrowstyle": "-|>", "lw": 2})
    ax.text(8.7, 0, _text(rc.target, 30), va="center", fontsize=11, fontweight="bold")
    by_cat: dict[str, list[Any]] = {c: [] for c in CATEGORIES}
    for c in rc.causes:
        by_cat.setdefault(c.category, []).append(c)
    slots = [(1.5, 1), (4.0, 1), (6.5, 1), (2.75, -1), (5.25, -1)]
    for (x, side), cat in zip(slots, CATEGORIES):
        top = 4.3 * side
        ax.plot([x, x + 1.5], [top, 0], color=_COLORS[cat], lw=2)
        ax.text(x, top + 0.3 * side, cat, ha="center", va="center", fontsize=10, fontweight="bold", color=_COLORS[cat])
        for k, c in enumerate(by_cat[cat][:per_bone]):
            yk = top * (1 - (k + 1) / (per_bone + 1))
            xk = x + 1.5 * (1 - yk / top)
            ax.text(xk - 0.1, yk, f"#{c.rank} {_label(c)}", ha="right", va="center", fontsize=7)
        if not by_cat[cat]:
            ax.text(x + 0.75 - 0.1, top / 2, "(none)", ha="right", va="center", fontsize=7, color="grey")
    ax.set_title(_text(f"Causes of {rc.target} by category", 80))
    return ax


def waiting(wc: "WaitingCauses", *, by: str = "activity", top: int = 15, ax=None):
    """Stacked horizontal bars of waiting time per activity (or resource), by cause."""
    t = (wc.by_activity if by == "activity" else wc.by_resource).head(top)
    ax = _axes(ax, (8, 0.4 * max(len(t), 3) + 1.2))
    if not len(t):
        return _empty(ax, "no waiting time")
    div, name = _scale("s", t["wait_s"].to_numpy())
    y = np.arange(len(t))[::-1]
    left = np.zeros(len(t))
    for c in wc.shares:  # the causes, in WAITING_CAUSES order (no import of .waiting: no cycle)
        v = t[f"{c}_s"].to_numpy() / div
        ax.barh(y, v, left=left, color=_WAIT_COLORS[c], label=c)
        left += v
    ax.set_yticks(y, [_text(v) for v in t[by]], fontsize=8)
    ax.set_xlabel(f"waiting ({name})")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"Why cases wait ({fmt_duration(wc.totals.get('wait', 0.0))} in total)")
    return ax


def to_svg(ax) -> str:
    """The figure of ``ax`` as an SVG string."""
    buf = io.StringIO()
    ax.figure.savefig(buf, format="svg")
    return buf.getvalue()
