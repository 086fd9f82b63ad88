"""Ultralytics training histories: read ``results.csv`` / ``args.yaml``, join stages, tidy for plots.

Every Ultralytics version writes ``results.csv`` a little differently: old ones
pad column names with spaces (``"   train/box_loss"``) and count epochs from 0,
newer ones add ``time`` (seconds since the run started, cumulative) and
``train/sem_loss``; detection runs have only box metrics. ``read_results_csv``
turns any of them into one shape, or raises ``RunHistoryError`` with a
one-line message naming the source.

Tables returned here always have an integer ``epoch`` (as in the file) and an
integer ``global_epoch`` (1-based, continuous across stages); multi-stage
histories also carry a ``stage`` column with the stage name.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from crackseg.core.errors import RunHistoryError

MAX_CSV_BYTES = 5_000_000
MAX_CSV_ROWS = 100_000
MAX_YAML_BYTES = 1_000_000
DEFAULT_BEST_METRIC = "metrics/mAP50(M)"
MAX_DISCOVERY_DEPTH = 4

_METRIC_PREFIX = "metrics/"
_LOSS_PREFIXES = ("train/", "val/")
_LR_PREFIX = "lr/"
_TEXT_COLUMNS = ("stage",)


# --------------------------------------------------------------------------- reading


def _read_source(source: Path | str | bytes, default_label: str, max_bytes: int) -> tuple[bytes, str]:
    """Return ``(data, label)`` for a path or raw bytes; ``label`` names the source in messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = default_label
    else:
        path = Path(source)
        label = str(path)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise RunHistoryError(f"{label}: file too large ({size:,} bytes, limit {max_bytes:,})")
            data = path.read_bytes()
        except FileNotFoundError:
            raise RunHistoryError(f"{label}: file not found") from None
        except IsADirectoryError:
            raise RunHistoryError(f"{label}: is a folder, not a file") from None
        except OSError as error:
            raise RunHistoryError(f"{label}: cannot be read ({error.strerror or error})") from None
    if len(data) > max_bytes:
        raise RunHistoryError(f"{label}: file too large ({len(data):,} bytes, limit {max_bytes:,})")
    return data, label


def _decode_text(data: bytes, label: str) -> str:
    """UTF-8 text (BOM tolerated); binary data (NUL bytes, invalid UTF-8) is refused."""
    if not data.strip():
        raise RunHistoryError(f"{label}: empty file")
    if b"\x00" in data:
        raise RunHistoryError(f"{label}: binary data, not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RunHistoryError(f"{label}: not UTF-8 text") from None


def _is_history_column(name: str) -> bool:
    return name.startswith((_METRIC_PREFIX, _LR_PREFIX, *_LOSS_PREFIXES))


def read_results_csv(source: Path | str | bytes, *, name: str | None = None) -> pd.DataFrame:
    """Read an Ultralytics ``results.csv`` into a clean table.

    ``source`` is a path (``str`` is a path, not CSV text) or the file's bytes;
    ``name`` overrides the label used in error messages.

    Column names are stripped; every column except ``stage`` becomes numeric
    (bad cells become NaN, not an error); rows without an integral epoch or
    without any metric/loss/lr value are dropped; a repeated epoch keeps its
    last row (resumed runs). Rows are ordered by epoch (within stage, stages in
    file order) and ``global_epoch`` is added if absent.

    Returns a DataFrame with int ``epoch`` and ``global_epoch`` plus float columns.
    Raises ``RunHistoryError`` (one line, naming the source) for an empty,
    binary, non-CSV or oversized file, a missing ``epoch`` column, no
    metric/loss column, or no row with numbers.
    """
    data, label = _read_source(source, name or "results.csv", MAX_CSV_BYTES)
    label = name or label
    text = _decode_text(data, label)
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, nrows=MAX_CSV_ROWS + 1, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RunHistoryError(f"{label}: not a readable CSV ({first_line})") from None
    if len(raw) > MAX_CSV_ROWS:
        raise RunHistoryError(f"{label}: too many rows (limit {MAX_CSV_ROWS:,})")
    raw.columns = [str(column).strip() for column in raw.columns]
    if "epoch" not in raw.columns:
        raise RunHistoryError(f"{label}: no 'epoch' column; not an Ultralytics results.csv")
    value_columns = [column for column in raw.columns if _is_history_column(column)]
    if not value_columns:
        raise RunHistoryError(f"{label}: no metric, loss or lr columns; not an Ultralytics results.csv")

    table = pd.DataFrame(index=raw.index)
    for column in raw.columns:
        if column in _TEXT_COLUMNS:
            table[column] = raw[column].str.strip()
        else:
            table[column] = pd.to_numeric(raw[column].str.strip(), errors="coerce").astype(float)

    epoch = table["epoch"]
    integral = epoch.notna() & np.isfinite(epoch) & (epoch == epoch.round())
    has_values = table[value_columns].notna().any(axis=1)
    table = table[integral & has_values].copy()
    if table.empty:
        raise RunHistoryError(f"{label}: no rows with an epoch number and numeric metrics")
    table["epoch"] = table["epoch"].astype(int)
    return _order_and_number(table)


def _order_and_number(table: pd.DataFrame) -> pd.DataFrame:
    """Sort by (stage in first-seen order, epoch), drop repeated epochs, (re)compute ``global_epoch``."""
    if "stage" in table.columns:
        table["stage"] = table["stage"].fillna("")
        stage_order = {stage: index for index, stage in enumerate(pd.unique(table["stage"]))}
        table["_stage_rank"] = table["stage"].map(stage_order)
        keys = ["_stage_rank", "epoch"]
    else:
        keys = ["epoch"]
    table = table.drop_duplicates(subset=keys, keep="last")
    # Always derived from (stage, epoch): a stored global_epoch may predate stages appended later.
    table = table.sort_values(keys, kind="stable")
    table["global_epoch"] = _global_epochs(table)
    return table.drop(columns=["_stage_rank"], errors="ignore").reset_index(drop=True)


def _global_epochs(table: pd.DataFrame) -> np.ndarray:
    """1-based epochs continuous across stages: each stage starts after the last one's final epoch.

    Within a stage, ``epoch - first_epoch + 1`` (so 0-based and 1-based files
    agree, and a dropped row leaves a gap instead of shifting later epochs).
    ``table`` must already be ordered by stage then epoch. Returns int64 ``(rows,)``.
    """
    stages = table["stage"].to_numpy() if "stage" in table.columns else np.zeros(len(table))
    epochs = table["epoch"].to_numpy(dtype=np.int64)
    out = np.empty(len(table), dtype=np.int64)
    offset = 0
    start = 0
    for index in range(1, len(table) + 1):
        if index == len(table) or stages[index] != stages[start]:
            local = epochs[start:index] - epochs[start:index].min() + 1
            out[start:index] = offset + local
            offset = int(out[start:index].max())
            start = index
    return out


def read_args_yaml(source: Path | str | bytes, *, name: str | None = None) -> dict[str, Any]:
    """Read an Ultralytics ``args.yaml`` (training arguments) with ``yaml.safe_load``.

    An empty file gives ``{}``. Raises ``RunHistoryError`` for unreadable,
    oversized, binary or invalid YAML, or a document that is not a mapping.
    """
    data, label = _read_source(source, "args.yaml", MAX_YAML_BYTES)
    label = name or label
    if not data.strip():
        return {}
    text = _decode_text(data, label)
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise RunHistoryError(f"{label}: invalid YAML{where}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise RunHistoryError(f"{label}: expected a mapping of training arguments, got {type(loaded).__name__}")
    return {str(key): value for key, value in loaded.items()}


# --------------------------------------------------------------------------- one run


def _mask_to_box_metric(metric: str) -> str | None:
    return metric[: -len("(M)")] + "(B)" if metric.endswith("(M)") else None


def _last_valid(series: pd.Series) -> float | None:
    valid = series.dropna()
    return float(valid.iloc[-1]) if len(valid) else None


def _max_valid(table: pd.DataFrame, column: str) -> float | None:
    if column not in table.columns or table[column].notna().sum() == 0:
        return None
    return float(table[column].max())


@dataclass(frozen=True, eq=False)
class RunHistory:
    """One training history (possibly several stages joined).

    Attributes:
        name: display name (the run folder, relative to the discovery root).
        table: as returned by ``read_results_csv`` / ``concat_stages``.
        args: training arguments from ``args.yaml`` (``{}`` if absent).
        source: where the table came from (path or label).
    """

    name: str
    table: pd.DataFrame
    args: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def metric_columns(self) -> list[str]:
        """Validation metrics (``metrics/*``), in file order."""
        return [column for column in self.table.columns if column.startswith(_METRIC_PREFIX)]

    @property
    def loss_columns(self) -> list[str]:
        """Training and validation losses (``train/*`` then ``val/*`` as in the file)."""
        return [column for column in self.table.columns if column.startswith(_LOSS_PREFIXES)]

    @property
    def lr_columns(self) -> list[str]:
        """Learning rates per parameter group (``lr/pg*``)."""
        return [column for column in self.table.columns if column.startswith(_LR_PREFIX)]

    @property
    def stages(self) -> list[str]:
        """Stage names in order; ``[]`` for a single-stage history without a ``stage`` column."""
        return [str(stage) for stage in pd.unique(self.table["stage"])] if "stage" in self.table.columns else []

    def resolve_metric(self, metric: str = DEFAULT_BEST_METRIC) -> str | None:
        """``metric`` if present with values, else its box twin for a mask metric (detection runs), else None."""
        for candidate in (metric, _mask_to_box_metric(metric)):
            if candidate and candidate in self.table.columns and self.table[candidate].notna().any():
                return candidate
        return None

    def best_epoch(self, metric: str = DEFAULT_BEST_METRIC) -> int | None:
        """``global_epoch`` (1-based) where ``metric`` peaks; first on ties.

        A mask metric falls back to its box twin (``metrics/mAP50(M)`` ->
        ``metrics/mAP50(B)``) when absent; None when neither has a value.
        """
        column = self.resolve_metric(metric)
        if column is None:
            return None
        return int(self.table.loc[self.table[column].idxmax(), "global_epoch"])

    def summary(self) -> dict[str, Any]:
        """Plain-Python summary for cards and JSON.

        Keys: ``name``, ``epochs`` (rows), ``stages``, ``best_metric`` (column
        used), ``best_epoch`` (global), ``best_stage`` / ``best_stage_epoch``,
        ``best_mask_map50``, ``best_mask_map50_95``, ``best_box_map50``,
        ``best_box_map50_95`` (None where absent), ``final_losses``
        ({column: last value}) and ``wall_time_s`` (last ``time``, else None).
        """
        table = self.table
        best_metric = self.resolve_metric()
        best_global = self.best_epoch()
        best_stage: str | None = None
        best_stage_epoch: int | None = None
        if best_global is not None:
            row = table.loc[table["global_epoch"] == best_global].iloc[0]
            best_stage_epoch = int(row["epoch"])
            best_stage = str(row["stage"]) if "stage" in table.columns else None
        return {
            "name": self.name,
            "epochs": int(len(table)),
            "stages": self.stages,
            "best_metric": best_metric,
            "best_epoch": best_global,
            "best_stage": best_stage,
            "best_stage_epoch": best_stage_epoch,
            "best_mask_map50": _max_valid(table, "metrics/mAP50(M)"),
            "best_mask_map50_95": _max_valid(table, "metrics/mAP50-95(M)"),
            "best_box_map50": _max_valid(table, "metrics/mAP50(B)"),
            "best_box_map50_95": _max_valid(table, "metrics/mAP50-95(B)"),
            "final_losses": {column: _last_valid(table[column]) for column in self.loss_columns},
            "wall_time_s": _last_valid(table["time"]) if "time" in table.columns else None,
        }


def load_run(folder: Path | str, *, name: str | None = None) -> RunHistory:
    """Load an Ultralytics run folder (``results.csv`` required, ``args.yaml`` optional).

    A path to a ``results.csv`` itself is accepted too. A broken ``args.yaml``
    is an error (not silently ignored). Raises ``RunHistoryError``.
    """
    folder = Path(folder)
    if folder.is_file() and folder.suffix.lower() == ".csv":
        csv_path, folder = folder, folder.parent
    else:
        csv_path = folder / "results.csv"
    if not folder.is_dir():
        raise RunHistoryError(f"{folder}: run folder not found")
    table = read_results_csv(csv_path)
    args_path = folder / "args.yaml"
    args = read_args_yaml(args_path) if args_path.is_file() else {}
    return RunHistory(name=name or folder.name, table=table, args=args, source=str(csv_path))


@dataclass(frozen=True)
class DiscoveryResult:
    """What ``discover_runs`` found: readable runs, and ``(results.csv path, message)`` for the rest."""

    runs: list[RunHistory]
    errors: list[tuple[Path, str]]


def discover_runs(root: Path | str, *, max_depth: int = MAX_DISCOVERY_DEPTH) -> DiscoveryResult:
    """Find every ``results.csv`` in ``root`` and up to ``max_depth`` folders below it.

    Hidden folders and symlinked folders are not entered. Runs are named by
    their folder relative to ``root`` (``"."`` -> ``root``'s own name) and
    sorted by that name. Unreadable runs do not stop the search; they are
    listed in ``errors``. A missing ``root`` gives an empty result.
    """
    root = Path(root)
    runs: list[RunHistory] = []
    errors: list[tuple[Path, str]] = []
    if not root.is_dir():
        return DiscoveryResult(runs, errors)
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        depth = len(Path(dirpath).relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
        if depth >= max_depth:
            dirnames[:] = []
        if "results.csv" in filenames:
            found.append(Path(dirpath))
    for folder in sorted(found):
        relative = folder.relative_to(root).as_posix()
        name = root.name if relative == "." else relative
        try:
            runs.append(load_run(folder, name=name))
        except RunHistoryError as error:
            errors.append((folder / "results.csv", str(error)))
    return DiscoveryResult(runs, errors)


# --------------------------------------------------------------------------- stages and plotting


def concat_stages(stages: Sequence[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """Join per-stage tables into one continuous history.

    Each ``(name, table)`` gets ``stage = name`` (replacing any existing value);
    stage-local ``epoch`` is kept; ``global_epoch`` runs 1..total across stages;
    ``time`` (cumulative within a stage in Ultralytics files) becomes
    cumulative across stages. Columns missing from a stage are NaN there.
    Input tables are not modified. Raises ``ValueError`` for no stages or a
    table without ``epoch``.
    """
    if not stages:
        raise ValueError("concat_stages needs at least one (name, table) stage")
    parts: list[pd.DataFrame] = []
    time_offset = 0.0
    for stage_name, stage_table in stages:
        if "epoch" not in stage_table.columns:
            raise ValueError(f"stage {stage_name!r}: table has no 'epoch' column")
        part = stage_table.drop(columns=["global_epoch"], errors="ignore").sort_values("epoch", kind="stable")
        part = part.assign(stage=str(stage_name))
        if "time" in part.columns:
            part["time"] = part["time"] + time_offset
            last = _last_valid(part["time"])
            time_offset = last if last is not None else time_offset
        parts.append(part)
    table = pd.concat(parts, ignore_index=True, sort=False)
    table["global_epoch"] = _global_epochs(table)
    leading = ["global_epoch", "stage", "epoch"]
    return table[leading + [column for column in table.columns if column not in leading]]


def stage_boundaries(table: pd.DataFrame) -> list[float]:
    """``global_epoch`` positions between stages (last epoch of a stage + 0.5), for vertical lines.

    ``[]`` when there is no ``stage`` column or a single stage.
    """
    if "stage" not in table.columns or "global_epoch" not in table.columns or len(table) < 2:
        return []
    ordered = table.sort_values("global_epoch", kind="stable")
    stages = ordered["stage"].to_numpy()
    epochs = ordered["global_epoch"].to_numpy(dtype=float)
    changes = np.flatnonzero(stages[1:] != stages[:-1])
    return [float(epochs[index] + 0.5) for index in changes]


def long_format(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Tidy rows ``global_epoch, stage, metric, value`` for ``columns`` (NaN values dropped).

    ``stage`` is ``""`` for a table without stages; ``global_epoch`` falls back
    to ``epoch`` if missing. Raises ``ValueError`` naming unknown columns.
    """
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ValueError(f"unknown columns: {', '.join(missing)}")
    frame = pd.DataFrame(
        {
            "global_epoch": table["global_epoch"] if "global_epoch" in table.columns else table["epoch"],
            "stage": table["stage"] if "stage" in table.columns else "",
        }
    )
    for column in columns:
        frame[column] = table[column]
    tidy = frame.melt(id_vars=["global_epoch", "stage"], value_vars=list(columns), var_name="metric")
    tidy = tidy.dropna(subset=["value"]).reset_index(drop=True)
    tidy["value"] = tidy["value"].astype(float)
    return tidy[["global_epoch", "stage", "metric", "value"]]
