"""JSON output: numpy and pandas values made plain, NaN written as null."""

from __future__ import annotations

import datetime as _dt
import json
import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["jsonable", "dumps"]


def jsonable(obj: Any) -> Any:
    """Convert numpy/pandas scalars, timestamps and containers to JSON-ready values."""
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, bool):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (pd.Timestamp, _dt.datetime, _dt.date)):
        return None if pd.isna(obj) else obj.isoformat()
    if isinstance(obj, (pd.Timedelta, _dt.timedelta)):
        return None if pd.isna(obj) else obj.total_seconds()
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, pd.DataFrame):
        return [jsonable(r) for r in obj.to_dict(orient="records")]
    if isinstance(obj, pd.Series):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if obj is pd.NA or obj is pd.NaT:
        return None
    try:
        if pd.isna(obj):
            return None
    except (TypeError, ValueError):
        pass
    return str(obj)


def dumps(obj: Any, *, indent: int | None = 2) -> str:
    """The JSON text of ``obj`` (via :func:`jsonable`), pretty-printed by default."""
    return json.dumps(jsonable(obj), indent=indent, ensure_ascii=False, allow_nan=False)
