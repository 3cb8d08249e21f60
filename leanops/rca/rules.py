"""A small, readable decision tree over the case features, printed as rules.

A shallow tree (depth 3 by default) answers "which combinations of conditions go with slow
cases?" in a handful of lines, each with its support and its effect against all cases.
It complements :func:`leanops.root_causes`, which tests one condition at a time with
adjustment and uncertainty; the tree has neither, so read it as a description.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_fraction, check_log, check_positive, check_seed
from ..log import EventLog
from ._format import fmt_duration, fmt_num
from .features import features as build_features
from .targets import Target, target_values

__all__ = ["rules", "Rules"]

MAX_ONE_HOT = 30


@dataclass
class Rules:
    """The leaves of the tree as rules, worst (highest mean) first."""

    target: str
    unit: str
    baseline: float
    n_cases: int
    table: pd.DataFrame  # rule, conditions, n_cases, support, mean, effect
    reason: str | None = None

    def __repr__(self) -> str:
        return f"<Rules for {self.target}: {len(self.table)} rules, {self.n_cases:,} cases>"

    def to_frame(self) -> pd.DataFrame:
        """One row per rule: the conditions, support and effect."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """The rules as a JSON-ready dict."""
        return {
            "target": self.target, "unit": self.unit, "baseline": self.baseline, "n_cases": self.n_cases,
            "rules": self.table.to_dict(orient="records"), "reason": self.reason,
        }

    def _fmt(self, x: float, signed: bool = False) -> str:
        if self.unit == "s":
            s = fmt_duration(abs(x) if signed else x)
        elif self.unit == "share":
            s = f"{100 * abs(x) if signed else 100 * x:.1f}%"
        else:
            s = fmt_num(round(abs(x) if signed else x, 4))
        return (("+" if x >= 0 else "-") + s) if signed else s

    def __str__(self) -> str:
        if not len(self.table):
            return f"Rules for {self.target}: {self.reason or 'none'}"
        lines = [f"Rules for {self.target} ({self.n_cases:,} cases, mean {self._fmt(self.baseline)}):"]
        for r in self.table.itertuples(index=False):
            lines.append(
                f"IF {r.rule} THEN mean {self._fmt(r.mean)} ({self._fmt(r.effect, signed=True)} vs all; "
                f"{100 * r.support:.0f}% of cases, n={r.n_cases})"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(
            f"<tr><td>{e(r.rule)}</td><td>{r.n_cases}</td><td>{100 * r.support:.0f}%</td>"
            f"<td>{e(self._fmt(r.mean))}</td><td>{e(self._fmt(r.effect, signed=True))}</td></tr>"
            for r in self.table.itertuples(index=False)
        )
        return (f"<div><b>Rules for {e(self.target)}</b><table><tr><th>rule</th><th>cases</th><th>support</th>"
                f"<th>mean</th><th>vs all</th></tr>{rows}</table></div>")


def _design(table: pd.DataFrame, include_path: bool) -> tuple[np.ndarray, list[tuple[str, str | None]]]:
    """Numeric matrix for the tree and, per column, (feature, one-hot value or None)."""
    cats = table.attrs.get("categories", {})
    cols: list[np.ndarray] = []
    meta: list[tuple[str, str | None]] = []
    for c in table.columns:
        s = table[c]
        if not include_path and (cats.get(c) == "method" or c.startswith("involves:") or c == "handoffs"
                                 or (c.startswith("resource@") and (s == "(none)").any())):
            continue  # consequences of the path (who did an optional activity implies it happened)
        if s.dtype == bool:
            cols.append(s.to_numpy(dtype=float))
            meta.append((c, "true"))
        elif pd.api.types.is_numeric_dtype(s):
            cols.append(s.to_numpy(dtype=float))
            meta.append((c, None))
        else:
            for v in s.astype(str).value_counts().index[:MAX_ONE_HOT]:
                cols.append((s.astype(str) == v).to_numpy(dtype=float))
                meta.append((c, str(v)))
    X = np.column_stack(cols) if cols else np.zeros((len(table), 0))
    return X, meta


def _cond_text(meta: tuple[str, str | None], thr: float, right: bool) -> str:
    feature, value = meta
    if value is None:
        return f"{feature} {'>' if right else '<='} {fmt_num(round(thr, 4))}"
    if value == "true" and not feature.startswith(("any:",)):
        return feature if right else f"not {feature}"
    return f"{feature} {'=' if right else '!='} {value}"


def rules(
    log: EventLog,
    *,
    target: str | pd.Series = "case_duration",
    max_depth: int = 3,
    min_support: float = 0.05,
    include_path: bool = False,
    seed: int | np.random.Generator | None = 0,
    feature_table: pd.DataFrame | None = None,
) -> Rules:
    """Fit a shallow decision tree of ``target`` on the case features and list its leaves as rules.

    Parameters
    ----------
    log : EventLog
    target : str or pandas.Series
        As for :func:`leanops.root_causes`.
    max_depth : int
        Depth of the tree: at most this many conditions per rule (keep it low to read it).
    min_support : float
        Smallest share of cases in a leaf.
    include_path : bool
        Also split on path features (an activity occurs, repeats, the variant, handoffs,
        who was involved, who did an activity not every case goes through). Off by
        default: they are consequences of what the case is.
    seed : int, numpy Generator or None
        For the tie-breaking of the tree.
    feature_table : DataFrame, optional
        A table from :func:`leanops.rca.features` to reuse.

    Returns
    -------
    Rules
        ``table`` with columns ``rule, n_cases, support, mean, effect`` (effect: leaf mean
        minus the mean of all cases), worst first; ``print(result)`` shows the rules.

    Examples
    --------
    >>> import leanops
    >>> r = leanops.rca.rules(leanops.datasets.load("production"), max_depth=2)
    >>> list(r.to_frame().columns)
    ['rule', 'n_cases', 'support', 'mean', 'effect']
    >>> len(r.to_frame()) <= 4
    True
    """
    from sklearn.tree import DecisionTreeRegressor  # lazy: scikit-learn is slow to import

    check_log(log, allow_empty=True)
    check_positive("max_depth", max_depth, integer=True)
    min_support = check_fraction("min_support", min_support, allow_none=False)
    rng = check_seed(seed)
    tgt: Target = target_values(log, target=target)
    y_all = tgt.values.to_numpy(dtype=float)
    mask = np.isfinite(y_all)
    y = y_all[mask]
    n = int(mask.sum())
    base = float(y.mean()) if n else float("nan")
    empty = pd.DataFrame(columns=["rule", "n_cases", "support", "mean", "effect"])
    if n < 4:
        return Rules(tgt.name, tgt.unit, base, n, empty, f"nothing to explain: only {n} cases have a value for target {tgt.name!r}")
    if float(np.std(y)) == 0.0:
        return Rules(tgt.name, tgt.unit, base, n, empty, f"nothing to explain: target {tgt.name!r} is the same for every case")
    table = build_features(log) if feature_table is None else feature_table.reindex(log.case_ids)
    if feature_table is not None:
        table.attrs = dict(feature_table.attrs)
    if tgt.name == "rework":
        keep = [c for c in table.columns if not (c.startswith("count:") or c == "variant")]
        attrs = dict(table.attrs)
        table = table[keep]
        table.attrs = attrs
    X, meta = _design(table.iloc[np.flatnonzero(mask)], include_path)
    if X.shape[1] == 0:
        return Rules(tgt.name, tgt.unit, base, n, empty, "nothing to explain: no features")
    leaf_min = max(5, int(math.ceil(min_support * n)))
    tree = DecisionTreeRegressor(max_depth=int(max_depth), min_samples_leaf=leaf_min,
                                 random_state=int(rng.integers(0, 2**31 - 1)))
    tree.fit(X, y)
    t = tree.tree_
    out = []

    def walk(node: int, conds: list[tuple[int, str, float]]) -> None:
        if t.children_left[node] == -1:
            leaf = tree.apply(X) == node
            k = int(leaf.sum())
            mean = float(y[leaf].mean())
            out.append({"rule": " AND ".join(_simplify(conds, meta)) or "(all cases)", "n_cases": k,
                        "support": k / n, "mean": mean, "effect": mean - base})
            return
        f, thr = int(t.feature[node]), float(t.threshold[node])
        walk(int(t.children_left[node]), conds + [(f, "<=", thr)])
        walk(int(t.children_right[node]), conds + [(f, ">", thr)])

    walk(0, [])
    res = pd.DataFrame(out, columns=["rule", "n_cases", "support", "mean", "effect"])
    res = res.sort_values("mean", ascending=False, kind="stable").reset_index(drop=True)
    return Rules(tgt.name, tgt.unit, base, n, res)


def _simplify(conds: list[tuple[int, str, float]], meta) -> list[str]:
    """Keep the tightest bound per numeric feature; word one-hot splits as = / !=."""
    lo: dict[int, float] = {}
    hi: dict[int, float] = {}
    texts: list[tuple[int, str]] = []
    order: list[int] = []
    for f, op, thr in conds:
        if meta[f][1] is None:
            if f not in order:
                order.append(f)
            if op == ">":
                lo[f] = max(lo.get(f, -np.inf), thr)
            else:
                hi[f] = min(hi.get(f, np.inf), thr)
        else:
            texts.append((f, _cond_text(meta[f], thr, op == ">")))
    out = []
    for f in order:
        if f in lo:
            out.append(_cond_text(meta[f], lo[f], True))
        if f in hi:
            out.append(_cond_text(meta[f], hi[f], False))
    # a positive one-hot condition makes the negatives on the same feature redundant
    pos = {meta[f][0] for f, txt in texts if " = " in txt or meta[f][1] == "true"}
    out += [txt for f, txt in texts if not (" != " in txt and meta[f][0] in pos)]
    return out
