"""The shared leaves: grouping linked items, numpy values to strict JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crackseg.core.grouping import linked_groups
from crackseg.core.json_values import dumps, to_jsonable


@pytest.mark.parametrize(
    ("scenario", "count", "links", "groups"),
    [
        ("no items", 0, [], []),
        ("no links", 3, [], [[0], [1], [2]]),
        ("one chain", 4, [(2, 3), (0, 2)], [[0, 2, 3], [1]]),
        ("link order does not matter", 4, [(3, 2), (2, 0), (1, 1)], [[0, 2, 3], [1]]),
        ("two groups", 5, [(0, 4), (1, 3)], [[0, 4], [1, 3], [2]]),
        ("a chain given backwards", 6, [(5, 4), (4, 3), (3, 2), (2, 1)], [[0], [1, 2, 3, 4, 5]]),
        ("two groups joined late", 6, [(4, 5), (1, 2), (0, 5), (2, 4), (3, 3)], [[0, 1, 2, 4, 5], [3]]),
    ],
)
def test_linked_groups(scenario: str, count: int, links: list, groups: list) -> None:
    assert linked_groups(count, links) == groups, scenario


def test_numpy_values_become_strict_json() -> None:
    value = {
        "count": np.int64(3),
        "share": np.float32(0.25),
        "nan": float("nan"),
        "inf": np.float64(np.inf),
        "flag": np.bool_(True),
        "array": np.array([[1, 2], [3, 4]], dtype=np.uint8),
        "tuple": (1, 2.5),
        "path": Path("a/b.png"),
        1: "key made text",
    }
    plain = to_jsonable(value)
    assert plain == {
        "count": 3,
        "share": 0.25,
        "nan": None,
        "inf": None,
        "flag": True,
        "array": [[1, 2], [3, 4]],
        "tuple": [1, 2.5],
        "path": "a/b.png",
        "1": "key made text",
    }
    assert type(plain["count"]) is int and type(plain["flag"]) is bool
    assert json.loads(dumps(value)) == plain
    assert "NaN" not in dumps(value)
