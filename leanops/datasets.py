"""The event logs bundled with leanops (see ``datasets/README.md`` for sources and licences).

Examples
--------
>>> import leanops
>>> [d["name"] for d in leanops.datasets.list()][:3]
['production', 'bpic2012_w', 'purchasing_example']
>>> leanops.datasets.load("production").n_cases
225
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ._validation import closest
from .errors import DataQualityWarning, InputError
from .log import EventLog

__all__ = ["list", "load", "path", "DEMO"]

#: The log used when a command is given none.
DEMO = "production"

_CATALOG: dict[str, dict[str, Any]] = {
    "production": {
        "file": "production.xes.gz",
        "kind": "real, manufacturing (start/complete pairs)",
        "cases": 225, "events": 4953,
        "source": "AutomatedProcessImprovement/Simod inputs/Production.xes.gz",
        "licence": "Apache-2.0 (Simod repository)",
    },
    "bpic2012_w": {
        "file": "bpic2012_w.csv.gz",
        "kind": "real, loan applications (BPI Challenge 2012, W_ subprocess)",
        "cases": 8616, "events": 59302,
        "source": "BPI Challenge 2012, 4TU.ResearchData (doi:10.4121/uuid:3926db30-f712-4394-aebc-75976070e91f), via AutomatedProcessImprovement/extraneous-activity-delays",
        "licence": "CC BY 4.0 (4TU.ResearchData)",
    },
    "purchasing_example": {
        "file": "purchasing_example.csv.gz",
        "kind": "synthetic, purchasing (simulation benchmark)",
        "cases": 608, "events": 9119,
        "source": "AutomatedProcessImprovement/Simod resources/event_logs/PurchasingExample.csv.gz",
        "licence": "Apache-2.0 (Simod repository)",
    },
    "receipt": {
        "file": "receipt.xes.gz",
        "kind": "real, municipality (receipt phase of a building permit), completion only",
        "cases": 1434, "events": 8577,
        "source": "CoSeLoG project, 4TU.ResearchData (doi:10.4121/12709127.v2), via pm4py test data",
        "licence": "CC BY 4.0 (4TU.ResearchData)",
    },
    "sepsis": {
        "file": "sepsis.xes.gz",
        "kind": "real, hospital (sepsis patients), completion only",
        "cases": 1050, "events": 15214,
        "source": "Sepsis Cases, 4TU.ResearchData (doi:10.4121/uuid:915d2bfb-7e84-49ad-a286-dc35f063a460), via aarkue/rust4pm test data",
        "licence": "CC BY 4.0 (4TU.ResearchData)",
    },
    "helpdesk": {
        "file": "helpdesk.xes.gz",
        "kind": "real, IT help desk, completion only",
        "cases": 4580, "events": 21348,
        "source": "Help desk event log, Mendeley Data (doi:10.17632/39bp3vv62t.1), via pm4py test data",
        "licence": "CC BY 4.0 (Mendeley Data)",
    },
    "loan_application_5_timers": {
        "file": "loan_application_5_timers.csv.gz",
        "kind": "synthetic with ground truth (extraneous_delay column, seconds)",
        "cases": None, "events": None,
        "source": "AutomatedProcessImprovement (Prosimos model in datasets/models/)",
        "licence": "Apache-2.0",
    },
}


def _root() -> Path:
    here = Path(__file__).resolve().parent
    for cand in (here / "_datasets", here.parent / "datasets"):
        if cand.is_dir():
            return cand
    raise InputError("the bundled datasets folder is missing; reinstall leanops.")


def list() -> list[dict[str, Any]]:  # noqa: A001 - mirrors the CLI verb
    """The bundled logs: name, file, kind, expected counts, source and licence."""
    return [{"name": k, **v} for k, v in _CATALOG.items()]


def path(name: str) -> Path:
    """The file of a bundled log, by name (e.g. ``"production"``)."""
    if name not in _CATALOG:
        hint = closest(name, _CATALOG)
        tip = f" Did you mean {hint[0]!r}?" if hint else ""
        raise InputError(f"unknown dataset {name!r}.{tip} Available: {', '.join(_CATALOG)}.")
    return _root() / _CATALOG[name]["file"]


def model_path(name: str, kind: str = "json") -> Path:
    """The Prosimos model file bundled for a log (``kind`` is ``"json"`` or ``"bpmn"``)."""
    p = _root() / "models" / f"{name}.prosimos.{kind}"
    if not p.exists():
        raise InputError(f"no bundled Prosimos model for {name!r}; available: production, purchasing_example, loan_application_5_timers.")
    return p


def load(name: str = DEMO, **options: Any) -> EventLog:
    """Read a bundled log by name; ``options`` go to :func:`leanops.read`.

    The known duplicate rows of the bundled logs are kept (as in the source) without a
    warning; they are still counted in ``log.quality``.
    """
    from .io import read

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return read(path(name), **options)
