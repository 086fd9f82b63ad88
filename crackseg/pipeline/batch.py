"""A batch written into an output folder as results arrive: pipelined, crash-safe and resumable.

Why: a survey batch is 10^4-10^6 frames. Encoding the overlay, mask and report of one
image, and its table rows as CSV, runs in writer threads (OpenCV's encoders and
OpenVINO release the GIL) while the model works on the next; each finished image's
rows are appended to ``images.csv`` and ``cracks.csv`` at once (in input order), so a
crash loses at most the images in flight. ``--resume`` reads those tables back, skips every input already done (same
``source_path`` and same content SHA-256) and appends the rest: the final tables are
the same as an uninterrupted run's. ``run.json`` records the settings; resuming with
other settings is refused, naming the difference.

With ``table_format="parquet"`` the CSV tables are the crash-safe journal and
``images.parquet`` / ``cracks.parquet`` are written from them when the batch ends
(a Parquet file is only valid once closed).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from crackseg.core.errors import CrackSegError
from crackseg.core.json_values import dumps
from crackseg.export.schema import CRACK_COLUMNS, IMAGE_COLUMNS, column_dtype
from crackseg.export.tables import csv_bytes, image_record
from crackseg.io.inputs import NamedPayload
from crackseg.pipeline.inspection import Inspection, InspectionFailure, inspection_files, unique_stem, view_columns

RUN_RECORD = "run.json"
IMAGES_TABLE = "images.csv"
CRACKS_TABLE = "cracks.csv"
SUMMARY = "summary.json"
TABLE_FORMATS = ("csv", "parquet")
FILE_SUFFIXES = {"overlays": ".jpg", "masks": ".png", "cracks": ".csv", "json": ".json", "reports": ".html"}


MAX_PIXELS_IN_FLIGHT = 40_000_000  # images being written at once: about 120 MB of RGB plus its overlay


@dataclass(frozen=True)
class BatchOptions:
    """What the batch writes besides the tables."""

    reports: bool = True  # per-image HTML reports (opt-in for big batches: they cost as much as the rest)
    table_format: str = "csv"
    per_image_files: bool = True  # False: the batch tables only (surveys that need the numbers, not the pictures)
    writer_threads: int = 2

    def __post_init__(self) -> None:
        if self.table_format not in TABLE_FORMATS:
            raise ValueError(f"table_format must be one of {TABLE_FORMATS}, got {self.table_format!r}")
        if self.writer_threads < 1:
            raise ValueError(f"writer_threads must be >= 1, got {self.writer_threads}")


@dataclass
class BatchTotals:
    """What a batch (this run and any run it resumed) came to."""

    inspected: int = 0
    failed: int = 0
    cracks: int = 0
    skipped: int = 0  # already done by the run that was resumed
    failures: list[dict[str, str]] = field(default_factory=list)


def content_sha256(data: bytes) -> str:
    """SHA-256 of an input's bytes: with its path, what identifies it for ``--resume``."""
    return hashlib.sha256(data).hexdigest()


class BatchWriter:
    """Writes each result's files and table rows into ``out_dir``; ``close()`` writes the summary.

    Use ``pending_inputs`` to drop inputs a resumed run already did, ``add`` for each result
    in input order (with its content hash), and ``close`` at the end (also after an error:
    what was added is on disk).
    """

    def __init__(self, out_dir: Path, record: dict[str, Any], options: BatchOptions, *, resume: bool) -> None:
        self.out_dir = Path(out_dir)
        self.record = record
        self._view_columns = view_columns(record)
        self.options = options
        self.totals = BatchTotals()
        self._used_stems: set[str] = set()
        self._done: set[tuple[str, str]] = set()
        self._pending: deque[tuple[Future[_EncodedRows], dict[str, Any]]] = deque()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            self._resume()
        else:
            for name in (IMAGES_TABLE, CRACKS_TABLE, SUMMARY):
                (self.out_dir / name).unlink(missing_ok=True)
        (self.out_dir / RUN_RECORD).write_text(dumps(_comparable(record)), encoding="utf-8")
        self._pool = ThreadPoolExecutor(max_workers=options.writer_threads, thread_name_prefix="crackseg-write")

    # -- resuming ----------------------------------------------------------------------------------------------
    def _resume(self) -> None:
        """Check the settings, repair a torn last line, and load what is done."""
        run_path = self.out_dir / RUN_RECORD
        if not run_path.is_file():
            raise CrackSegError(f"{self.out_dir}: nothing to resume (no {RUN_RECORD}; run without --resume)")
        try:
            previous = json.loads(run_path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise CrackSegError(f"{run_path}: unreadable ({error})") from None
        difference = _first_difference(_with_later_defaults(previous), _comparable(self.record))
        if difference is not None:
            raise CrackSegError(f"{self.out_dir}: made with other settings ({difference}); use another --out")
        images = _read_journal(self.out_dir / IMAGES_TABLE, IMAGE_COLUMNS)
        cracks = _read_journal(self.out_dir / CRACKS_TABLE, CRACK_COLUMNS)
        # cracks written for an image whose own row never made it (a crash between the two) are dropped
        finished = set(images["image"])
        kept = cracks[cracks["image"].isin(finished)]
        if len(kept) != len(cracks):
            (self.out_dir / CRACKS_TABLE).write_bytes(csv_bytes(kept))
        for row in images.itertuples(index=False):
            self._done.add((_text(row.source_path), _text(row.content_sha256)))
            unique_stem(str(row.image), self._used_stems)  # the same stems, so no output file is renamed
            if row.status == "ok":
                self.totals.inspected += 1
                self.totals.cracks += int(row.crack_count)
            else:
                self.totals.failed += 1
                self.totals.failures.append(
                    {"image": _text(row.image), "source_path": _text(row.source_path), "error": _text(row.error)}
                )

    def pending_inputs(self, payloads: Iterable[NamedPayload]) -> Iterator[tuple[NamedPayload, str]]:
        """The inputs not done yet, each with its content hash (inputs already done are counted as skipped)."""
        for payload in payloads:
            digest = content_sha256(payload.data) if payload.data is not None else ""
            if (payload.source, digest) in self._done:
                self.totals.skipped += 1
                continue
            yield payload, digest

    @property
    def done(self) -> set[tuple[str, str]]:
        """``(source_path, content_sha256)`` of every input a resumed run already did."""
        return set(self._done)

    # -- writing -----------------------------------------------------------------------------------------------
    def add(self, result: Inspection | InspectionFailure, digest: str) -> None:
        """Queue one result's files and table rows for the writer threads (appended to the tables in input order)."""
        source = result.source_path or result.name
        if isinstance(result, Inspection):
            stem = unique_stem(result.name, self._used_stems)
            row = result.image_record(source, content_sha256=digest)
            future = self._pool.submit(self._write_inspection, result, stem, source, row)
        else:
            row = image_record(result.name, source, error=result.error, content_sha256=digest, **self._view_columns)
            future = self._pool.submit(_encode_rows, [], row)
        self._enqueue(future, row)

    def add_row(self, row: dict[str, Any], cracks: list[dict[str, Any]], encoded: dict[str, bytes]) -> None:
        """Queue a result inspected elsewhere (a cluster worker): its table rows and its files by kind."""
        stem = unique_stem(row["image"], self._used_stems) if row["status"] == "ok" else ""
        self._enqueue(self._pool.submit(self._write_encoded, encoded, stem, cracks, row), row)

    def _enqueue(self, future: Future[_EncodedRows], row: dict[str, Any]) -> None:
        self._pending.append((future, row))
        self._flush(block=len(self._pending) > self.options.writer_threads)  # bounded: images in flight hold pixels
        # and by pixels: a few huge images in flight would otherwise hold gigabytes while the machine is slow
        while len(self._pending) > 1 and self._pixels_in_flight() > MAX_PIXELS_IN_FLIGHT:
            self._flush(block=True)

    def _pixels_in_flight(self) -> int:
        """Pixels of the images whose files are still being written."""
        return sum(
            int(row.get("width_px") or 0) * int(row.get("height_px") or 0)
            for future, row in self._pending
            if not future.done()
        )

    def _write_inspection(self, inspection: Inspection, stem: str, source: str, row: dict[str, Any]) -> _EncodedRows:
        """In a writer thread: the image's files (unless tables only), then its rows as CSV."""
        if self.options.per_image_files:
            for relative, data in inspection_files(inspection, self.record, stem, reports=self.options.reports):
                target = self.out_dir / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        return _encode_rows(inspection.cracks_table(source).to_dict("records"), row)

    def _write_encoded(
        self, encoded: dict[str, bytes], stem: str, cracks: list[dict[str, Any]], row: dict[str, Any]
    ) -> _EncodedRows:
        for kind, data in encoded.items():
            target = self.out_dir / kind / f"{stem}{FILE_SUFFIXES[kind]}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return _encode_rows(cracks, row)

    def _flush(self, *, block: bool) -> None:
        """Append the rows of every finished image at the head of the queue (waiting for one if ``block``)."""
        while self._pending:
            future, row = self._pending[0]
            if not future.done() and not block:
                return
            encoded = future.result()  # an error writing files surfaces here
            self._pending.popleft()
            block = False
            _append_csv(self.out_dir / CRACKS_TABLE, encoded.cracks_csv)
            _append_csv(self.out_dir / IMAGES_TABLE, encoded.image_csv)
            if row["status"] == "ok":
                self.totals.inspected += 1
                self.totals.cracks += encoded.crack_count
            else:
                self.totals.failed += 1
                self.totals.failures.append(
                    {"image": row["image"], "source_path": row["source_path"], "error": row["error"]}
                )

    def close(self) -> BatchTotals:
        """Finish every queued image, write the summary (and the Parquet tables), stop the threads."""
        try:
            while self._pending:
                self._flush(block=True)
        finally:
            self._pool.shutdown(wait=True)
        for name, columns in ((IMAGES_TABLE, IMAGE_COLUMNS), (CRACKS_TABLE, CRACK_COLUMNS)):
            path = self.out_dir / name
            if not path.is_file():
                _append(path, [], columns)  # every table exists, with its header, even when empty
            if self.options.table_format == "parquet":
                _read_journal(path, columns).to_parquet(path.with_suffix(".parquet"), index=False)
        summary = {
            "images": self.totals.inspected,
            "cracks": self.totals.cracks,
            "failed": self.totals.failures,
            "skipped_as_done": self.totals.skipped,
            "settings": self.record,
        }
        (self.out_dir / SUMMARY).write_text(dumps(summary), encoding="utf-8")
        return self.totals


@dataclass(frozen=True)
class _EncodedRows:
    """One image's table rows as CSV text with the header line (made in a writer thread)."""

    cracks_csv: bytes
    image_csv: bytes
    crack_count: int


def _encode_rows(cracks: list[dict[str, Any]], row: dict[str, Any]) -> _EncodedRows:
    return _EncodedRows(
        cracks_csv=csv_bytes(pd.DataFrame(cracks, columns=list(CRACK_COLUMNS))),
        image_csv=csv_bytes(pd.DataFrame([row], columns=list(IMAGE_COLUMNS))),
        crack_count=len(cracks),
    )


def _append(path: Path, rows: list[dict[str, Any]], columns: dict[str, str]) -> None:
    """Append rows to a CSV table (its header first when the file is new), flushed to the OS at once."""
    _append_csv(path, csv_bytes(pd.DataFrame(rows, columns=list(columns))))


def _append_csv(path: Path, data: bytes) -> None:
    """Append CSV text that starts with its header: the header only when the file is new; flushed at once."""
    new = not path.is_file() or path.stat().st_size == 0
    if not new:
        data = data.split(b"\n", 1)[1]  # without the header line
        if not data:
            return
    with path.open("ab") as handle:
        handle.write(data)
        handle.flush()


def _read_journal(path: Path, columns: dict[str, str]) -> pd.DataFrame:
    """A table written by ``_append``, with a torn last line (a crash mid-write) cut off the file first."""
    if not path.is_file():
        return pd.DataFrame({name: pd.Series(dtype=column_dtype(name)) for name in columns})
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        path.write_bytes(data)
    dtypes = {name: column_dtype(name) for name in columns}
    try:
        table = pd.read_csv(io.BytesIO(data), dtype=dtypes, keep_default_na=False, na_values=[""])
    except (ValueError, pd.errors.ParserError) as error:
        raise CrackSegError(f"{path}: not a table this tool wrote ({error})") from None
    if list(table.columns) != list(columns):
        raise CrackSegError(f"{path}: its columns are not this version's; use another --out")
    return table


def _text(value: Any) -> str:
    """A text cell read back, with an empty cell as ``""``."""
    return "" if pd.isna(value) else str(value)


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    """The parts of a run's settings that change results (the model's identity, inference, measurement)."""
    model = record.get("model", {})
    return {
        "model_sha256": model.get("sha256"),
        "backend": model.get("backend"),
        "inference": record.get("inference"),
        "measurement": record.get("measurement"),
        "outputs": record.get("outputs"),
    }


# Settings added after the first release, with the value that reproduces what runs before them did: a run
# record written before a setting existed resumes as if it had been written with this value.
LATER_SETTING_DEFAULTS: dict[str, dict[str, Any]] = {"inference": {"flip_tta": False}}


def _with_later_defaults(previous: Any) -> Any:
    """A stored run record with the settings added since filled in at their old behaviour's values."""
    if not isinstance(previous, dict):
        return previous
    filled = dict(previous)
    for section, defaults in LATER_SETTING_DEFAULTS.items():
        if isinstance(filled.get(section), dict):
            filled[section] = defaults | filled[section]
    return filled


def _first_difference(old: Any, new: Any, path: str = "") -> str | None:
    """The first setting that differs, as ``name: old -> new``; ``None`` when equal."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            found = _first_difference(old.get(key), new.get(key), f"{path}.{key}" if path else key)
            if found is not None:
                return found
        return None
    normal_old, normal_new = json.loads(dumps(old)), json.loads(dumps(new))
    return None if normal_old == normal_new else f"{path}: {normal_old} -> {normal_new}"
