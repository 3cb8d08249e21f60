"""The statistics behind :func:`leanops.root_causes`: candidate conditions, adjusted
effects by least squares on sufficient statistics, forward selection, robust p-values and
the bootstrap. See the module documentation of ``leanops.rca.drivers`` for the method."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ._format import fmt_num
from .features import feature_kind

MAX_VALUES = 30  # per text feature
# A driver's value (text, or one side of a yes/no) shared by more than this share of the
# cases is near-universal: it cannot separate slow from fast cases, and its "effect" is that
# of the few cases without it. It is left out (named in the notes); the few cases without it
# are tested instead: "feature != value", or the other side of a yes/no, or the one other
# value of a text feature as itself.
NEAR_UNIVERSAL = 0.9
QUANTILES = np.arange(0.05, 0.951, 0.05)
_FAMILIES = ("involves:", "occurs:", "any:")
# System state that raises a target only when there is more of it: "found fewer waiting,
# so slower" is an artefact (of the log's first days, or of an outflow), never a finding.
_MORE_IS_WORSE = ("queue@", "wip_at_arrival")


@dataclass
class _Cand:
    column: str  # feature-table column
    feature: str  # reported feature
    value: str  # reported value for the indicator == 1
    value_not: str | None  # reported value for the complement (flippable conditions)
    category: str
    kind: str  # driver, resource, system or path (see leanops.rca.features.feature_kind)


def _bh(p: np.ndarray, m: int) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values for ``p`` among ``m >= len(p)`` tests."""
    p = np.asarray(p, dtype=float)
    if not len(p):
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, len(p) + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(ranked)
    out[order] = np.minimum(ranked, 1.0)
    return out


def _welch(n1, s1, q1, n0, s0, q0):
    """Welch t and two-sided p from group counts, sums and sums of squares (vectorised)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        m1, m0 = s1 / n1, s0 / n0
        v1 = np.maximum(q1 - n1 * m1**2, 0) / np.maximum(n1 - 1, 1)
        v0 = np.maximum(q0 - n0 * m0**2, 0) / np.maximum(n0 - 1, 1)
        se2 = v1 / n1 + v0 / n0
        t = (m1 - m0) / np.sqrt(se2)
        dof = se2**2 / ((v1 / n1) ** 2 / np.maximum(n1 - 1, 1) + (v0 / n0) ** 2 / np.maximum(n0 - 1, 1))
    # no spread within either group: a difference is certain, no difference is none
    t = np.where(se2 == 0, np.where(m1 != m0, np.sign(m1 - m0) * 1e12, 0.0), t)
    t = np.where(np.isfinite(t), t, 0.0)
    dof = np.where(np.isfinite(dof) & (dof > 0), dof, 1.0)
    p = 2 * stats.t.sf(np.abs(t), dof)
    return m1 - m0, t, p


def _candidates(table: pd.DataFrame, y: np.ndarray, min_count: int, want: float, max_support: float):
    """Candidate conditions as a sparse 0/1 matrix (cases x conditions), their descriptions,
    the number of conditions tested and the near-universal text values left out
    (``(feature, value, share)``, see ``NEAR_UNIVERSAL``)."""
    n = len(y)
    universal: list[tuple[str, str, float]] = []
    cats = table.attrs.get("categories", {})
    cands: list[_Cand] = []
    rows_list: list[np.ndarray] = []
    n_tested = 0
    y2 = y * y
    sy, qy = y.sum(), y2.sum()

    def push(c: _Cand, rows: np.ndarray) -> None:
        cands.append(c)
        rows_list.append(rows.astype(np.int32, copy=False))

    for col in table.columns:
        cat = cats.get(col, "material")
        kind = feature_kind(col, table)
        more_is_worse = want != 0 and col.startswith(_MORE_IS_WORSE)
        s = table[col]
        v = s.to_numpy()
        if s.dtype == bool:
            rows = np.flatnonzero(v)
            k = len(rows)
            if k < min_count or k > n - min_count:
                continue
            n_tested += 1
            fam = next((f for f in _FAMILIES if col.startswith(f)), None)
            if fam == "any:":
                name, _, val = col[4:].partition("=")
                push(_Cand(col, f"any:{name}", val, None, cat, kind), rows)
            elif fam is not None:
                push(_Cand(col, fam[:-1], col[len(fam):], None, cat, kind), rows)
            elif kind == "driver" and max(k, n - k) > NEAR_UNIVERSAL * n:
                # a near-universal side is never reported: only the few cases on the other
                # side are a condition (not flippable)
                major, minor = ("true", "false") if k > n - k else ("false", "true")
                universal.append((col, major, float(max(k, n - k) / n)))
                push(_Cand(col, col, minor, None, cat, kind), rows if minor == "true" else np.flatnonzero(~v))
            else:
                push(_Cand(col, col, "true", "false", cat, kind), rows)
        elif pd.api.types.is_numeric_dtype(s):
            x = v.astype(float)
            ok = np.isfinite(x)
            if ok.sum() < 2 * min_count:
                continue
            qs = np.unique(np.quantile(x[ok], QUANTILES))
            if np.all(x[ok] == np.round(x[ok])):
                qs = np.unique(np.ceil(qs))
            lo_t = 2.0 if col.startswith("count:") else np.min(x[ok])
            qs = qs[qs > lo_t] if not col.startswith("count:") else qs[qs >= lo_t]
            if not len(qs):
                continue
            order = np.argsort(x[ok], kind="stable")
            xs = x[ok][order]
            ys = y[ok][order]
            cs = np.r_[0, np.cumsum(ys)]
            cq = np.r_[0, np.cumsum(ys * ys)]
            pos = np.searchsorted(xs, qs, side="left")  # rows >= threshold start here
            n1 = len(xs) - pos
            keep = (n1 >= min_count) & (n1 <= n - min_count)
            if not keep.any():
                continue
            qs, pos, n1 = qs[keep], pos[keep], n1[keep]
            n_tested += len(qs)
            s1 = cs[-1] - cs[pos]
            q1 = cq[-1] - cq[pos]
            diff, t, _ = _welch(n1, s1, q1, n - n1, sy - s1, qy - q1)
            if want != 0:  # the side that raises (lowers) the target must stay a minority
                worse = np.where(diff * want > 0, n1, n - n1)
                t = np.where(worse <= max_support * n, t, 0.0)
            if more_is_worse:
                t = np.where(diff * want > 0, t, 0.0)
            if not np.any(t):
                continue
            best = int(np.argmax(np.abs(t)))
            thr = qs[best]
            rows = np.flatnonzero(ok & (x >= thr))
            lab = fmt_num(thr)
            push(_Cand(col, col, f">= {lab}", None if more_is_worse else f"< {lab}", cat, kind), rows)
            miss = int((~ok).sum())
            if cat == "material" and min_count <= miss <= n - min_count:
                n_tested += 1
                push(_Cand(col, col, "(missing)", None, "measurement", kind), np.flatnonzero(~ok))
        else:
            codes, uniq = pd.factorize(pd.Series(v, dtype=object), sort=False)
            cnt = np.bincount(codes[codes >= 0], minlength=len(uniq))
            ok = np.flatnonzero((cnt >= min_count) & (cnt <= n - min_count))
            if not len(ok):
                continue
            ok = ok[np.argsort(-cnt[ok], kind="stable")][:MAX_VALUES]
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(uniq) + 1))
            for k in ok:
                val = str(uniq[k])
                if val == "(none)" and col.startswith("resource@"):
                    continue  # "not done at all" is the path feature occurs:<activity>
                if kind == "driver" and cnt[k] > NEAR_UNIVERSAL * n:
                    universal.append((col, val, float(cnt[k] / n)))
                    present = np.flatnonzero(cnt)  # from the counts: no pass over the cases
                    if len(present) == 2 and cnt.sum() == n and cnt[present].min() >= min_count:
                        continue  # the few cases without it are those of the one other value, tested as such
                    n_tested += 1
                    push(_Cand(col, col, f"!= {val}", None, cat, kind), np.flatnonzero(codes != k))
                    continue
                n_tested += 1
                ccat = "measurement" if val == "(missing)" else cat
                push(_Cand(col, col, val, None, ccat, kind), order[bounds[k]:bounds[k + 1]])
    m = len(cands)
    if m:
        indptr = np.r_[0, np.cumsum([len(r) for r in rows_list])]
        indices = np.concatenate(rows_list)
        X = sparse.csc_matrix((np.ones(len(indices)), indices, indptr), shape=(n, m))
    else:
        X = sparse.csc_matrix((n, 0))
    return cands, X, n_tested, universal


def _adjusted(A_inv, Zy, yy, XZ, xx, xy, n: int):
    """Coefficient, t and the share of each candidate left after the selected set (vectorised)."""
    k = A_inv.shape[0]
    G = XZ @ A_inv
    xMy = xy - G @ Zy
    xMx = xx - np.einsum("ij,ij->i", G, XZ)
    yMy = yy - Zy @ A_inv @ Zy
    with np.errstate(divide="ignore", invalid="ignore"):
        free = xMx / np.maximum(xx, 1e-12)
        b = np.where(free > 0.02, xMy / xMx, 0.0)
        sse = np.maximum(yMy - b * xMy, 0.0)
        se = np.sqrt(sse / max(n - k - 1, 1) / xMx)
        t = np.where((free > 0.02) & (se > 0), b / np.where(se > 0, se, 1.0), 0.0)
        t = np.where((free > 0.02) & (se == 0) & (b != 0), np.sign(b) * 1e12, t)
    return b, t, free, G


def _robust_p(Z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """OLS of y on Z; HC1 p-value and coefficient of Z's last column."""
    n, k = Z.shape
    ZtZ = Z.T @ Z
    try:
        inv = np.linalg.inv(ZtZ)
    except np.linalg.LinAlgError:
        inv = np.linalg.pinv(ZtZ)
    beta = inv @ (Z.T @ y)
    e = y - Z @ beta
    meat = (Z * (e * e)[:, None]).T @ Z
    cov = inv @ meat @ inv * n / max(n - k, 1)
    se = math.sqrt(max(cov[-1, -1], 0.0))
    b = float(beta[-1])
    if se <= 0:
        return b, 0.0 if b != 0 else 1.0
    t = b / se
    return b, float(2 * stats.t.sf(abs(t), max(n - k, 1)))


def _bootstrap(Xsel: np.ndarray, y: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap the nested adjusted effects: row b, column j = coefficient of column j + 1
    given the columns before it (the first column is the intercept)."""
    n, d = Xsel.shape
    out = np.full((n_boot, d - 1), np.nan)
    p = np.full(n, 1.0 / n)
    for b in range(n_boot):
        w = rng.multinomial(n, p).astype(float)
        Xw = Xsel * w[:, None]
        G = Xw.T @ Xsel
        h = Xw.T @ y
        for j in range(1, d):
            sub = G[: j + 1, : j + 1]
            try:
                coef = np.linalg.solve(sub, h[: j + 1])
            except np.linalg.LinAlgError:
                continue
            out[b, j - 1] = coef[-1]
    return out




class _Forward:
    """Forward selection with regression adjustment, on sufficient statistics.

    The design ``Z`` starts with the intercept; every selected condition adds a column (its
    indicator, or the complement for a flipped condition). Candidates are weighed by their
    t statistic given ``Z``; the chosen one must pass Benjamini-Hochberg (HC1 p-value) over
    the conditions not yet selected.
    """

    def __init__(self, X, y: np.ndarray, cands: list[_Cand], *, want: float, alpha: float, m_tests: int) -> None:
        n = len(y)
        self.X, self.Xt, self.y, self.n, self.cands = X, X.T.tocsr(), y, n, cands
        self.xx = np.asarray(X.sum(axis=0)).ravel()
        self.xy = self.Xt @ y
        xyy = self.Xt @ (y * y)
        sy, qy = y.sum(), (y * y).sum()
        self.raw_eff, _, raw_p = _welch(self.xx, self.xy, xyy, n - self.xx, sy - self.xy, qy - xyy)
        self.raw_q = _bh(raw_p, m_tests)
        self.flippable = np.array([c.value_not is not None for c in cands])
        self.kinds = np.array([c.kind for c in cands])
        self.want, self.alpha, self.m_tests = want, alpha, m_tests
        self.yy = float(y @ y)
        self.Zcols: list[np.ndarray] = [np.ones(n)]
        self.XZ = self.xx[:, None].astype(float)  # X^T Z
        self.Zy = np.array([sy])
        self.selected: list[int] = []
        self.sides: list[float] = []
        self.p: list[float] = []
        self.q: list[float] = []
        self.blocked: set[int] = set()
        # drivers found through a step: (path-specific effect, its SE, the step); see drivers._mediated_drivers
        self.mediated: dict[int, tuple[float, float, str]] = {}

    def column(self, j: int, side: float = 1.0) -> np.ndarray:
        col = self.X[:, j].toarray().ravel()
        return 1.0 - col if side < 0 else col

    def add(self, j: int, side: float, p: float, q: float) -> None:
        col = self.column(j, side)
        self.Zcols.append(col)
        self.XZ = np.column_stack([self.XZ, self.Xt @ col])
        self.Zy = np.r_[self.Zy, col @ self.y]
        self.selected.append(j)
        self.sides.append(side)
        self.p.append(p)
        self.q.append(q)

    def a_inv(self) -> np.ndarray:
        Z = np.column_stack(self.Zcols)
        A = Z.T @ Z
        try:
            return np.linalg.inv(A)
        except np.linalg.LinAlgError:
            return np.linalg.pinv(A)

    def adjusted(self):
        """Per candidate: coefficient, t, free share, and G = X^T Z (Z^T Z)^-1 given ``Z``."""
        return _adjusted(self.a_inv(), self.Zy, self.yy, self.XZ, self.xx, self.xy, self.n)

    def select(self, kinds: set[str], max_sel: int) -> None:
        """Add conditions of these kinds while one is significant (at most ``max_sel``)."""
        want, m = self.want, len(self.cands)
        of_kind = np.isin(self.kinds, list(kinds))
        start = len(self.selected)
        while len(self.selected) - start < max_sel:
            b, t, _, _ = self.adjusted()
            side = np.where(self.flippable & (np.sign(b) != want) & (want != 0), -1.0, 1.0)
            eligible = of_kind & (self.raw_q < self.alpha) & (t != 0)
            if want != 0:
                eligible &= (np.sign(b * side) == want)
            eligible[list(set(self.selected) | self.blocked)] = False
            if not eligible.any():
                return
            p_all = 2 * stats.t.sf(np.abs(t), max(self.n - len(self.Zcols) - 1, 1))
            j = int(np.flatnonzero(eligible)[np.argmax(np.abs(t[eligible]))])
            _, p_rob = _robust_p(np.column_stack([*self.Zcols, self.column(j, side[j])]), self.y)
            p_vec = p_all.copy()
            p_vec[j] = p_rob
            rem = np.ones(m, dtype=bool)
            rem[self.selected] = False
            q = _bh(p_vec[rem], max(self.m_tests - len(self.selected), 1))
            qj = float(q[int(np.flatnonzero(rem).searchsorted(j))])
            if qj >= self.alpha:
                self.blocked.add(j)
                continue
            self.add(j, float(side[j]), p_rob, qj)

    def nested(self) -> np.ndarray:
        """The coefficient of every selected column given the columns before it."""
        Z = np.column_stack(self.Zcols)
        return np.array([np.linalg.lstsq(Z[:, : k + 1], self.y, rcond=None)[0][-1] for k in range(1, Z.shape[1])])
