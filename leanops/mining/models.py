"""Process models (Petri nets, BPMN) and conformance, via pm4py.

This is the only module of leanops that imports pm4py, and it does so inside the
functions, so that ``import leanops`` stays fast.

pm4py is given the log's own instance order (start, falling back to end): each instance
gets a synthetic, strictly increasing timestamp, so pm4py cannot reorder ties.
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from .._validation import check_choice, check_log
from ..errors import InputError, ModelError
from ..log import EventLog

__all__ = ["PetriNet", "ProcessModel", "ConformanceResult", "discover_model", "conformance"]


class PetriNet(NamedTuple):
    """A pm4py accepting Petri net."""

    net: Any
    initial_marking: Any
    final_marking: Any


@dataclass(frozen=True, repr=False, eq=False)
class ProcessModel:
    """A discovered process model: a Petri net and, where it converts, a BPMN model.

    Attributes
    ----------
    petri_net : PetriNet
        ``(net, initial_marking, final_marking)``, pm4py objects.
    bpmn : pm4py BPMN or None
        The BPMN model (None when the Petri net does not convert, e.g. some heuristics nets).
    method : str
    noise : float or None
    process_tree : pm4py ProcessTree or None
        For the inductive miner.
    """

    petri_net: PetriNet
    bpmn: Any
    method: str
    noise: float | None = None
    process_tree: Any = None

    @property
    def net(self) -> Any:
        return self.petri_net.net

    @property
    def initial_marking(self) -> Any:
        return self.petri_net.initial_marking

    @property
    def final_marking(self) -> Any:
        return self.petri_net.final_marking

    @property
    def activities(self) -> list[str]:
        """Labels of the visible transitions, sorted."""
        return sorted({str(t.label) for t in self.net.transitions if t.label is not None})

    def to_frame(self) -> pd.DataFrame:
        """One row per transition: ``transition, label, visible``."""
        rows = [(str(t.name), t.label, t.label is not None) for t in self.net.transitions]
        return pd.DataFrame(rows, columns=["transition", "label", "visible"]).sort_values("transition", ignore_index=True)

    def to_bpmn(self, path: str | os.PathLike[str]) -> Path:
        """Write the model as BPMN 2.0 XML (with diagram layout) to ``path``."""
        import pm4py

        if self.bpmn is None:
            raise ModelError(
                f"this {self.method} model's Petri net does not convert to BPMN; use method='inductive', "
                "which always gives a block-structured model."
            )
        target = Path(path)
        if target.suffix.lower() != ".bpmn":
            raise InputError(f"to_bpmn: path must end in .bpmn; got {target.name!r}.")
        if not target.parent.exists():
            raise InputError(f"to_bpmn: folder {str(target.parent)!r} does not exist; create it first.")
        with _quiet(), _dot_on_path():
            try:
                pm4py.write_bpmn(self.bpmn, str(target), auto_layout=True)
            except Exception:  # layout needs graphviz; the XML is still valid without it
                pm4py.write_bpmn(self.bpmn, str(target), auto_layout=False)
        return target

    def render(self, path: str | os.PathLike[str], *, view: Literal["petri_net", "bpmn"] = "petri_net") -> Path:
        """Draw the Petri net or the BPMN model to ``path`` (``.svg`` or ``.png``) with pm4py.

        Works without a system Graphviz: the ``graphviz-pure`` binary stands in for ``dot``.
        """
        import pm4py

        check_choice("view", view, ("petri_net", "bpmn"))
        target = Path(path)
        fmt = target.suffix.lower().lstrip(".")
        if fmt not in ("svg", "png"):
            raise InputError(f"render: path must end in .svg or .png; got {target.name!r}.")
        if not target.parent.exists():
            raise InputError(f"render: folder {str(target.parent)!r} does not exist; create it first.")
        if view == "bpmn" and self.bpmn is None:
            raise ModelError(f"this {self.method} model has no BPMN form; use view='petri_net' or method='inductive'.")
        with _quiet(), _dot_on_path():
            if view == "petri_net":
                pm4py.save_vis_petri_net(self.net, self.initial_marking, self.final_marking, str(target))
            else:
                pm4py.save_vis_bpmn(self.bpmn, str(target))
        return target

    def __repr__(self) -> str:
        n = self.net
        return (
            f"<ProcessModel: {self.method}, {len(self.activities)} activities, "
            f"{len(n.places)} places, {len(n.transitions)} transitions>"
        )

    def _repr_html_(self) -> str:
        return f"<div>{html.escape(repr(self))}</div>"


@dataclass(frozen=True, repr=False)
class ConformanceResult:
    """Token-replay conformance of a log against a model.

    Attributes
    ----------
    fitness : float
        Log fitness (pm4py's token-based replay formula,
        ``0.5 (1 - missing/consumed) + 0.5 (1 - remaining/produced)`` over all cases).
    precision : float
        Token-based replay (ETConformance) precision.
    fit_cases_share : float
        Share of cases that replay without missing or remaining tokens.
    cases : pandas.DataFrame
        One row per case: ``case_id, fitness, is_fit, missing, remaining, consumed,
        produced``.
    """

    fitness: float
    precision: float
    fit_cases_share: float
    cases: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The per-case fitness table."""
        return self.cases.copy()

    def to_json(self) -> dict[str, Any]:
        """Fitness, precision and the share of fitting cases as a JSON-ready dict."""
        return {"fitness": self.fitness, "precision": self.precision, "fit_cases_share": self.fit_cases_share}

    def __repr__(self) -> str:
        return (
            f"<ConformanceResult: fitness {self.fitness:.3f}, precision {self.precision:.3f}, "
            f"{self.fit_cases_share:.1%} of {len(self.cases):,} cases fit>"
        )

    def _repr_html_(self) -> str:
        return f"<div>{html.escape(repr(self))}</div>"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence pm4py's warnings and progress bars for the duration of a call."""
    from pm4py.util import constants

    old = constants.SHOW_PROGRESS_BAR
    constants.SHOW_PROGRESS_BAR = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        constants.SHOW_PROGRESS_BAR = old


@contextlib.contextmanager
def _dot_on_path() -> Iterator[None]:
    """Make a ``dot`` command available to pm4py's graphviz calls (graphviz-pure fallback)."""
    if shutil.which("dot"):
        yield
        return
    from .render import find_dot

    try:
        binary = find_dot()
    except Exception:
        yield
        return
    old = os.environ.get("PATH", "")
    with tempfile.TemporaryDirectory(prefix="leanops-dot-") as tmp:
        os.symlink(binary, os.path.join(tmp, "dot"))
        os.environ["PATH"] = tmp + os.pathsep + old
        try:
            yield
        finally:
            os.environ["PATH"] = old


def _pm4py_frame(log: EventLog) -> pd.DataFrame:
    """The log for pm4py, in the log's own order (synthetic increasing timestamps)."""
    d = log.df
    return pd.DataFrame(
        {
            "case:concept:name": d["case_id"].astype(object).to_numpy(),
            "concept:name": d["activity"].astype(str).to_numpy(dtype=object),
            "time:timestamp": pd.to_datetime(np.arange(len(d), dtype=np.int64), unit="s", utc=True),
        }
    )


def discover_model(
    log: EventLog,
    *,
    method: Literal["inductive", "heuristics"] = "inductive",
    noise: float | None = None,
) -> ProcessModel:
    """Discover a Petri net and a BPMN model with pm4py.

    Parameters
    ----------
    method : {'inductive', 'heuristics'}
        The inductive miner (sound, block-structured; perfect fitness with ``noise=0``)
        or the heuristics miner.
    noise : float in [0, 1), optional
        Inductive: the noise threshold (share of infrequent behaviour ignored; default 0).
        Heuristics: the dependency threshold (default 0.5).

    Returns
    -------
    ProcessModel
        ``.petri_net`` (net, initial_marking, final_marking), ``.bpmn``, ``.to_bpmn(path)``.

    Examples
    --------
    >>> import leanops
    >>> m = leanops.mining.discover_model(leanops.datasets.load("purchasing_example"))
    >>> m.method, len(m.activities)
    ('inductive', 21)
    """
    import pm4py

    check_log(log, "discover_model")
    check_choice("method", method, ("inductive", "heuristics"))
    if noise is not None:
        try:
            noise = float(noise)
        except (TypeError, ValueError):
            raise InputError(f"noise must be a number in [0, 1); got {noise!r}.") from None
        if not 0.0 <= noise < 1.0:
            raise InputError(f"noise must be a number in [0, 1); got {noise!r}.")
    df = _pm4py_frame(log)
    with _quiet():
        if method == "inductive":
            tree = pm4py.discover_process_tree_inductive(df, noise_threshold=0.0 if noise is None else noise)
            net, im, fm = pm4py.convert_to_petri_net(tree)
            bpmn = pm4py.convert_to_bpmn(tree)
        else:
            tree = None
            net, im, fm = pm4py.discover_petri_net_heuristics(df, dependency_threshold=0.5 if noise is None else noise)
            try:
                bpmn = pm4py.convert_to_bpmn(net, im, fm)
            except Exception:
                bpmn = None
    return ProcessModel(PetriNet(net, im, fm), bpmn, method, noise, tree)


def conformance(log: EventLog, model: ProcessModel | PetriNet | tuple) -> ConformanceResult:
    """Token-replay fitness and precision of ``log`` against ``model``, with a per-case table.

    Parameters
    ----------
    log : EventLog
    model : ProcessModel, or a ``(net, initial_marking, final_marking)`` tuple

    Examples
    --------
    >>> import leanops
    >>> log = leanops.datasets.load("purchasing_example")
    >>> r = leanops.mining.conformance(log, leanops.mining.discover_model(log))
    >>> r.fitness
    1.0
    """
    import pm4py

    check_log(log, "conformance")
    if isinstance(model, ProcessModel):
        net, im, fm = model.petri_net
    elif isinstance(model, tuple) and len(model) == 3:
        net, im, fm = model
    else:
        raise InputError(
            f"model must be a ProcessModel (from leanops.mining.discover_model) or a (net, im, fm) tuple; got {type(model).__name__}."
        )
    df = _pm4py_frame(log)
    with _quiet():
        elog = pm4py.convert_to_event_log(df)
        diag = pm4py.conformance_diagnostics_token_based_replay(elog, net, im, fm)
        precision = float(pm4py.precision_token_based_replay(elog, net, im, fm))
    ids = [str(t.attributes["concept:name"]) for t in elog]
    cases = pd.DataFrame(
        {
            "case_id": ids,
            "fitness": [float(d["trace_fitness"]) for d in diag],
            "is_fit": [bool(d["trace_is_fit"]) for d in diag],
            "missing": [int(d["missing_tokens"]) for d in diag],
            "remaining": [int(d["remaining_tokens"]) for d in diag],
            "consumed": [int(d["consumed_tokens"]) for d in diag],
            "produced": [int(d["produced_tokens"]) for d in diag],
        }
    )
    m, r, c, p = (int(cases[k].sum()) for k in ("missing", "remaining", "consumed", "produced"))
    fitness = 0.5 * (1 - m / c if c else 1.0) + 0.5 * (1 - r / p if p else 1.0)
    order = pd.Index(log.case_ids.astype(str))
    cases = cases.set_index("case_id").reindex(order).reset_index()
    return ConformanceResult(float(fitness), precision, float(cases["is_fit"].mean()), cases)
