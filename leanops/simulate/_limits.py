"""Run limits of a simulation: bounds that stop a run from hanging or eating the memory.

A model or scenario is checked before it runs (every step can reach the end), but a loop
with a high probability, a huge ``--cases`` or ``add_resources`` count would still run for
hours. Each limit has a default, a message that names it, and a way to raise it: the
keyword of :func:`using` in Python (``leanops.simulate.run_limits``), ``--limit NAME=N`` on the command line.

============================  ============  ===========================================
limit                         default       what it bounds
============================  ============  ===========================================
``cases``                     10,000,000    cases per run (``--cases``)
``steps_per_case``            10,000        activity instances of one simulated case
``pool_size``                 100,000       members of a pool (``add_resources``)
============================  ============  ===========================================

The limits are read in the process that runs the simulation; with ``--jobs`` or a Dask
``--scheduler`` the workers use the defaults.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace

from ..errors import InputError

__all__ = ["Limits", "DEFAULTS", "current", "using", "parse_limit", "check_cases", "check_pool_size",
           "step_limit_error"]


@dataclass(frozen=True)
class Limits:
    """Upper bounds of one simulation run (see the module docstring)."""

    cases: int = 10_000_000
    steps_per_case: int = 10_000
    pool_size: int = 100_000


DEFAULTS = Limits()
_CURRENT: contextvars.ContextVar[Limits] = contextvars.ContextVar("leanops_sim_limits", default=DEFAULTS)


def current() -> Limits:
    """The limits in force (the defaults unless raised with :func:`using`)."""
    return _CURRENT.get()


@contextlib.contextmanager
def using(**raised: int) -> Iterator[Limits]:
    """Run the block with other limits, e.g. ``with using(cases=10**8): run(...)``.

    >>> with using(steps_per_case=50) as lim:
    ...     lim.steps_per_case
    50
    """
    known = [f.name for f in fields(Limits)]
    for k, v in raised.items():
        if k not in known:
            raise InputError(f"limit {k!r} is unknown; known limits: {', '.join(known)}.")
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise InputError(f"limit {k} must be a positive integer; got {v!r}.")
    token = _CURRENT.set(replace(_CURRENT.get(), **raised))
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def parse_limit(text: str) -> tuple[str, int]:
    """``'cases=2e8'`` -> ``('cases', 200000000)``: the CLI's ``--limit NAME=N``."""
    known = [f.name for f in fields(Limits)]
    name, sep, value = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or name not in known:
        raise InputError(f"--limit must be NAME=N with NAME one of {', '.join(known)}; got {text!r}.")
    try:
        v = float(value)
    except ValueError:
        v = float("nan")
    if not (v >= 1 and v == int(v)) or v > 2**62:
        raise InputError(f"--limit {name} must be a positive whole number; got {value.strip()!r}.")
    return name, int(v)


def _too_many(what: str, got: int, name: str, limit: int) -> InputError:
    return InputError(f"{what} {got:,} is over the limit of {limit:,} ({name}); "
                      f"raise it with --limit {name}=N (Python: with leanops.simulate.run_limits({name}=N)) if you mean it.")


def check_cases(n: int, *, what: str = "cases") -> None:
    """Refuse more cases per run than the ``cases`` limit."""
    lim = current().cases
    if n > lim:
        raise _too_many(f"{what}:", n, "cases", lim)


def check_pool_size(n: int, *, where: str) -> None:
    """Refuse a pool larger than the ``pool_size`` limit (``add_resources`` with a huge count)."""
    lim = current().pool_size
    if n > lim:
        raise _too_many(f"{where}: a pool of", n, "pool_size", lim)


def step_limit_error(activity: str, previous: str | None, limit: int) -> InputError:
    """The error the engine raises when one case exceeds ``steps_per_case``, naming the loop."""
    loop = f"{previous!r} -> {activity!r}" if previous is not None and previous != activity else f"{activity!r} -> {activity!r}"
    return InputError(f"a simulated case went through more than {limit:,} steps, looping at {loop}; "
                      "the routing sends cases back round this loop almost always: lower that probability "
                      f"(or raise --limit steps_per_case=N if the case really is that long).")
