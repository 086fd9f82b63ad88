"""How long a training run took, across resumes: ``wall_time.json`` in the run folder, written and read here.

Ultralytics' own ``time`` column restarts when a run is resumed, so each script
invocation appends its wall time and the promotion adds them up.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

WALL_TIME_FILE = "wall_time.json"  # one entry per script invocation (a resumed run has several)


def record_wall_time(run_dir: Path, wall_time_s: float) -> None:
    """Append this invocation's wall time to the run's ``wall_time.json`` (Ultralytics' clock restarts on resume)."""
    path = run_dir / WALL_TIME_FILE
    try:
        segments = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    except ValueError:
        segments = []
    segments.append({"ended": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "wall_time_s": round(wall_time_s, 1)})
    run_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(segments, indent=2), encoding="utf-8")


def recorded_wall_time(run_dir: Path) -> float | None:
    """Seconds of training the scripts recorded for a run (every invocation, resumes included)."""
    try:
        segments = json.loads((run_dir / WALL_TIME_FILE).read_text(encoding="utf-8"))
        return float(sum(float(segment["wall_time_s"]) for segment in segments))
    except (OSError, ValueError, KeyError, TypeError):
        return None
