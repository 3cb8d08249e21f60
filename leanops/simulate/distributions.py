"""Duration and inter-arrival distributions: fitting by goodness of fit, and fast sampling.

Every distribution is a frozen :class:`Distribution` with a ``kind`` and plain float
parameters, so that it saves to JSON as is. Parameters by kind (all in seconds):

============  ==========================================================
kind          params
============  ==========================================================
fixed         (value,)
exponential   (mean,)
lognormal     (mu, sigma) of the underlying normal
gamma         (shape, scale)
weibull       (shape, scale)
normal        (mean, std), truncated below at ``low``
uniform       (low, high)
empirical     ``values``: sorted quantiles, sampled by linear interpolation
============  ==========================================================

Samples are clipped to ``[low, high]`` (``high`` may be ``inf``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["Distribution", "fit_distribution", "KINDS"]

Kind = Literal["fixed", "exponential", "lognormal", "gamma", "weibull", "normal", "uniform", "empirical"]
KINDS: tuple[str, ...] = ("fixed", "exponential", "lognormal", "gamma", "weibull", "normal", "uniform", "empirical")
_NPARAMS = {"fixed": 1, "exponential": 1, "lognormal": 2, "gamma": 2, "weibull": 2, "normal": 2, "uniform": 2, "empirical": 0}
_N_QUANTILES = 101


@dataclass(frozen=True)
class Distribution:
    """A non-negative random duration in seconds (see the module docstring for params)."""

    kind: Kind
    params: tuple[float, ...] = ()
    values: tuple[float, ...] = ()
    low: float = 0.0
    high: float = math.inf
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"distribution kind must be one of {KINDS}; got {self.kind!r}")
        if len(self.params) != _NPARAMS[self.kind]:
            raise ValueError(f"{self.kind} takes {_NPARAMS[self.kind]} params; got {len(self.params)}")
        if self.kind == "empirical" and len(self.values) < 1:
            raise ValueError("an empirical distribution needs at least one value")
        if any(not math.isfinite(p) for p in self.params) or any(not math.isfinite(v) for v in self.values):
            raise ValueError("distribution parameters must be finite numbers")

    # -- construction -------------------------------------------------------------------
    @classmethod
    def fixed(cls, value: float) -> "Distribution":
        """A distribution that always returns ``value``."""
        return cls("fixed", (float(value),))

    @classmethod
    def exponential(cls, mean: float) -> "Distribution":
        """An exponential distribution with the given mean."""
        return cls("exponential", (float(mean),))

    @classmethod
    def empirical(cls, data: Any, *, n: int = _N_QUANTILES) -> "Distribution":
        """Quantiles of ``data``, sampled by linear interpolation, with the data's mean.

        Up to ``n`` observations are kept as they are. Beyond, ``n`` quantiles are kept;
        interpolating between them misstates the mean of a heavy tail (the last slice
        runs linearly up to the maximum), so the top of the table is adjusted until the
        table's mean is the data's (see :func:`mean_preserving`).
        """
        x = np.sort(np.asarray(data, dtype=float))
        if len(x) > n:
            x = mean_preserving(np.quantile(x, np.linspace(0, 1, n)), float(x.mean()))
        return cls("empirical", (), tuple(float(v) for v in x))

    # -- properties ---------------------------------------------------------------------
    @property
    def mean(self) -> float:
        """The distribution's mean."""
        k, p = self.kind, self.params
        if k == "fixed":
            return p[0]
        if k == "exponential":
            return p[0]
        if k == "lognormal":
            return math.exp(p[0] + p[1] ** 2 / 2)
        if k == "gamma":
            return p[0] * p[1]
        if k == "weibull":
            return p[1] * math.gamma(1 + 1 / p[0])
        if k == "normal":
            return p[0]
        if k == "uniform":
            return (p[0] + p[1]) / 2
        v = self.values
        if len(v) < 2:
            return float(v[0])
        return (sum(v) - (v[0] + v[-1]) / 2) / (len(v) - 1)

    def scaled(self, factor: float) -> "Distribution":
        """The same shape, every value multiplied by ``factor``."""
        f = float(factor)
        k, p = self.kind, self.params
        if k in ("fixed", "exponential"):
            params = (p[0] * f,)
        elif k == "lognormal":
            params = (p[0] + math.log(f), p[1]) if f > 0 else (p[0], p[1])
        elif k in ("gamma", "weibull"):
            params = (p[0], p[1] * f)
        elif k in ("normal", "uniform"):
            params = (p[0] * f, p[1] * f)
        else:
            params = ()
        if k == "lognormal" and f <= 0:
            return Distribution.fixed(0.0)
        return Distribution(k, params, tuple(v * f for v in self.values), self.low * f, self.high * f, self.note)

    def describe(self) -> str:
        """A short readable description, e.g. ``lognormal(mean 12 min)``."""
        if self.kind == "empirical":
            return f"empirical({len(self.values)} quantiles, mean {self.mean:.4g}s)"
        return f"{self.kind}({', '.join(f'{p:.4g}' for p in self.params)}; mean {self.mean:.4g}s)"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used in model files."""
        d: dict[str, Any] = {"kind": self.kind, "params": list(self.params)}
        if self.values:
            d["values"] = list(self.values)
        if self.low:
            d["low"] = self.low
        if math.isfinite(self.high):
            d["high"] = self.high
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Distribution":
        """Read the JSON form written by :meth:`to_dict`."""
        return cls(
            kind=d["kind"],
            params=tuple(float(v) for v in d.get("params", ())),
            values=tuple(float(v) for v in d.get("values", ())),
            low=float(d.get("low", 0.0)),
            high=float(d["high"]) if d.get("high") is not None else math.inf,
        )

    # -- sampling -----------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw samples from the distribution with the given numpy Generator."""
        k, p = self.kind, self.params
        if k == "fixed":
            x = np.full(size, p[0])
        elif k == "exponential":
            x = rng.exponential(p[0], size)
        elif k == "lognormal":
            x = rng.lognormal(p[0], p[1], size)
        elif k == "gamma":
            x = rng.gamma(p[0], p[1], size)
        elif k == "weibull":
            x = p[1] * rng.weibull(p[0], size)
        elif k == "normal":
            x = rng.normal(p[0], p[1], size)
        elif k == "uniform":
            x = rng.uniform(p[0], p[1], size)
        else:
            v = np.asarray(self.values)
            if len(v) == 1:
                x = np.full(size, v[0])
            else:
                u = rng.random(size) * (len(v) - 1)
                x = np.interp(u, np.arange(len(v)), v)
        lo, hi = max(self.low, 0.0), self.high
        if lo > 0 or math.isfinite(hi) or k in ("normal", "uniform", "empirical", "fixed"):
            x = np.clip(x, lo, hi)
        return x


def mean_preserving(values: Any, target: float) -> np.ndarray:
    """Sorted quantile values adjusted at the top so that sampling them by linear
    interpolation has mean ``target``: the highest values come down (never below the
    one before them) when the table overstates the mean, the maximum goes up when it
    understates it."""
    v = np.array(values, dtype=float)
    k = len(v)
    if k < 2 or not math.isfinite(target):
        return v
    w = np.ones(k)
    w[0] = w[-1] = 0.5
    excess = float((v * w).sum() - target * (k - 1))  # in units of sum(weights * values)
    if excess < 0:
        v[-1] -= excess / w[-1]
        return v
    j = k - 1  # the top block v[j:], all equal, comes down together
    while excess > 0 and j > 0:
        w_top = float(w[j:].sum())
        room = (v[j] - v[j - 1]) * w_top
        if room >= excess:
            v[j:] -= excess / w_top
            break
        v[j:] = v[j - 1]
        excess -= room
        j -= 1
    return v


def fit_distribution(
    data: Any,
    *,
    candidates: tuple[str, ...] = ("exponential", "lognormal", "gamma", "weibull", "normal"),
    min_samples: int = 20,
    max_fit: int = 3000,
    seed: int = 0,
) -> Distribution:
    """Fit the best distribution to non-negative ``data`` (seconds) by goodness of fit.

    Fixed when (almost) constant; empirical quantiles when there are fewer than
    ``min_samples`` observations, many zeros, or when no parametric family passes a
    Kolmogorov-Smirnov check; otherwise the family with the smallest KS statistic.

    Examples
    --------
    >>> import numpy as np
    >>> d = fit_distribution(np.random.default_rng(0).exponential(60, 2000))
    >>> d.kind in ("exponential", "gamma", "weibull"), round(d.mean / 60, 1)
    (True, 1.0)
    """
    from scipy import stats

    x = np.asarray(data, dtype=float)
    x = x[np.isfinite(x)]
    x = np.maximum(x, 0.0)
    n = len(x)
    if n == 0:
        return Distribution("fixed", (0.0,), note="no data")
    mean = float(x.mean())
    if n == 1 or float(x.std()) <= 0.01 * max(mean, 1e-9):
        return Distribution("fixed", (mean,), note="constant")
    if n < min_samples:
        return Distribution("empirical", (), Distribution.empirical(x).values, note=f"only {n} observations")
    zero_share = float((x <= 0).mean())
    if zero_share > 0.02:
        return Distribution("empirical", (), Distribution.empirical(x).values, note=f"{zero_share:.0%} zero durations")
    rng = np.random.default_rng(seed)
    xf = x if n <= max_fit else rng.choice(x, max_fit, replace=False)
    best: tuple[float, Distribution] | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind in candidates:
            try:
                if kind == "exponential":
                    dist, cand = stats.expon(scale=mean), Distribution("exponential", (mean,))
                elif kind == "lognormal":
                    lx = np.log(xf)
                    mu, sg = float(lx.mean()), float(lx.std())
                    dist, cand = stats.lognorm(sg, scale=math.exp(mu)), Distribution("lognormal", (mu, sg))
                elif kind == "gamma":
                    a, _, sc = stats.gamma.fit(xf, floc=0)
                    dist, cand = stats.gamma(a, scale=sc), Distribution("gamma", (float(a), float(sc)))
                elif kind == "weibull":
                    c, _, sc = stats.weibull_min.fit(xf, floc=0)
                    dist, cand = stats.weibull_min(c, scale=sc), Distribution("weibull", (float(c), float(sc)))
                elif kind == "normal":
                    m, s = float(xf.mean()), float(xf.std())
                    dist, cand = stats.norm(m, s), Distribution("normal", (m, s))
                else:
                    continue
                ks = float(stats.kstest(xf, dist.cdf).statistic)
            except Exception:  # a family that fails to fit is simply not a candidate
                continue
            if math.isfinite(ks) and (best is None or ks < best[0]):
                best = (ks, cand)
    # KS critical value at 1% for the sample used; empirical wins when no family passes.
    crit = 1.63 / math.sqrt(len(xf))
    if best is None or best[0] > max(crit, 0.03):
        return Distribution("empirical", (), Distribution.empirical(x).values, note="no family fits (KS)")
    return best[1]
