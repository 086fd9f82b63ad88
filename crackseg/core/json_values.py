"""numpy values to plain JSON, written once for every JSON the package writes.

Reports, batch summaries and measurement files all hold numpy scalars and arrays,
tuples and the odd NaN. ``to_jsonable`` turns them into strict JSON types (NaN and
infinities become ``null``, so the output parses anywhere), and ``dumps`` writes it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars/arrays unwrapped, tuples and sets as lists, NaN/inf as None, paths as text."""
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, PurePath):
        return str(value)
    return str(value)


def dumps(value: Any, *, indent: int | None = 2) -> str:
    """Strict JSON text (no NaN) of ``value`` after ``to_jsonable``; non-ASCII kept as is."""
    return json.dumps(to_jsonable(value), indent=indent, ensure_ascii=False, allow_nan=False)
