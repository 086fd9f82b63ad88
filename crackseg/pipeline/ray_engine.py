"""The batch on a Ray cluster: Ray Data reads the files, an actor pool runs one Segmenter per actor.

Why: a survey of 10^6 frames wants more than one machine. The work per file is the same
as the local engine's (``file_payloads`` -> ``inspect_payloads`` -> the same encoders);
Ray Data reads the files (``read_binary_files`` with their paths) and hands them in
batches to a pool of actors, each holding one model; the results come back in input
order to the driver, which writes them with the same ``BatchWriter`` as the local
engine. So the tables are the local engine's, byte for byte (tested on the samples).

Ray is imported only here, only when ``--engine ray`` asks for it. A local Ray that
CrackSeg starts has node address 127.0.0.1, no dashboard, and Ray's usage statistics
off; Ray 2.60 turns its token authentication on by default. Some of Ray's servers still
listen on all interfaces (seen with ``ss``), and Ray's API runs code for whoever reaches
it: never expose a cluster's ports to an untrusted network. Workers load the model only
from the operator's path.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from crackseg.core.errors import CrackSegError
from crackseg.export.tables import image_record
from crackseg.geometry.camera import CameraProfile
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.io.inputs import InputFile, NamedPayload, file_payloads, list_inputs
from crackseg.measurement.measure import MeasurementSettings
from crackseg.pipeline.batch import BatchWriter, content_sha256
from crackseg.pipeline.inspection import Inspection, inspect_payloads, inspection_files, view_columns

STEM_PLACEHOLDER = "\x00stem\x00"  # the driver names the files (stems depend on the whole batch's order)
LOCAL_OBJECT_STORE_BYTES = 512 * 2**20
FILE_KINDS = ("overlays", "masks", "cracks", "json", "reports", "top_views", "top_masks")


class InspectActor:
    """One Ray actor: one model, inspecting batches of files exactly as the local engine does."""

    def __init__(
        self,
        weights: str,
        backend: str,
        settings: InferenceSettings,
        measurement_settings: MeasurementSettings,
        record: dict[str, Any],
        reports: bool,
        per_image_files: bool,
        names: dict[str, tuple[str, str]],
        done: set[tuple[str, str]],
        camera: CameraProfile | None = None,
    ) -> None:
        self.segmenter = Segmenter(weights, backend=backend)
        self.camera = camera
        self.settings, self.measurement_settings = settings, measurement_settings
        self.record, self.reports, self.per_image_files = record, reports, per_image_files
        self.names, self.done = names, done

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        """``{"bytes", "path"}`` rows in, one row per inspected input out (a ZIP gives several)."""
        out: dict[str, list[Any]] = {"path": [], "index": [], "image_row": [], "crack_rows": [], "skipped": []}
        out |= {kind: [] for kind in FILE_KINDS}
        for data, read_path in zip(batch["bytes"], batch["path"], strict=True):
            path = file_key(str(read_path))
            name, source = self.names[path]
            payloads = []
            for payload in file_payloads(Path(source), name, bytes(data)):
                digest = content_sha256(payload.data) if payload.data is not None else ""
                if (payload.source, digest) in self.done:  # a resumed run did it: say so, write nothing
                    self._append(out, path, -1, "", "", {}, skipped=True)
                else:
                    payloads.append((payload, digest))
            results = inspect_payloads(
                self.segmenter, [p for p, _ in payloads], self.settings, self.measurement_settings, camera=self.camera
            )
            for index, (result, (_, digest)) in enumerate(zip(results, payloads, strict=True)):
                self._add(out, path, index, result, digest)
        return out

    def _add(self, out: dict[str, list[Any]], path: str, index: int, result: Any, digest: str) -> None:
        source = result.source_path or result.name
        files: dict[str, bytes] = {}
        if isinstance(result, Inspection):
            row = result.image_record(source, content_sha256=digest)
            cracks = result.cracks_table(source).to_dict("records")
            if self.per_image_files:
                for relative, data in inspection_files(result, self.record, STEM_PLACEHOLDER, reports=self.reports):
                    files[relative.split("/", 1)[0]] = data
        else:
            row = image_record(result.name, source, error=result.error, content_sha256=digest)
            cracks = []
        self._append(out, path, index, _json(row), _json(cracks), files, skipped=False)

    @staticmethod
    def _append(
        out: dict[str, list[Any]],
        path: str,
        index: int,
        image_row: str,
        crack_rows: str,
        files: dict[str, bytes],
        *,
        skipped: bool,
    ) -> None:
        out["path"].append(path)
        out["index"].append(index)
        out["image_row"].append(image_row)
        out["crack_rows"].append(crack_rows)
        out["skipped"].append(skipped)
        for kind in FILE_KINDS:
            out[kind].append(files.get(kind, b""))


def file_key(path: str) -> str:
    """One spelling of a file's path for matching Ray's rows to the inputs (Ray reads absolute paths)."""
    return os.path.normpath(os.path.abspath(path.removeprefix("file://")))


def _json(value: Any) -> str:
    from crackseg.core.json_values import dumps

    return dumps(value, indent=None)


def check_reachable(address: str, timeout_s: float = 3.0) -> None:
    """Fail at once, in one line, when nothing answers at a ``host:port`` (or ``ray://host:port``) address.

    Ray itself retries for minutes and prints a page of warnings; a user who mistyped an
    address wants one line. Other address forms (``auto``) are left to Ray.
    """
    host_port = address.removeprefix("ray://")
    host, separator, port = host_port.rpartition(":")
    if not separator or not port.isdigit():
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise CrackSegError(f"Ray at {address} cannot be reached ({reason}); is the cluster running?") from None


def start_ray(address: str | None, workers: int) -> Any:
    """Join the cluster at ``address``, or start a local Ray on 127.0.0.1 with ``workers`` CPUs; returns ``ray``."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage statistics leave the machine
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    for name in ("ray", "ray.data"):  # Ray's progress and INFO lines would bury the per-file errors on stderr
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        import ray
    except ImportError as error:
        raise CrackSegError(f"--engine ray needs Ray Data (pip install 'ray[data]'): {error}") from None
    if address:
        check_reachable(address)
    try:
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        else:
            ray.init(
                num_cpus=workers + 1,  # one CPU for Ray Data's readers beside the actors
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                log_to_driver=False,
                configure_logging=False,
            )
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CrackSegError(f"Ray at {address or 'a new local instance'} cannot be reached: {first}") from None
    return ray


def run_on_ray(
    paths: list[Path],
    writer: BatchWriter,
    *,
    weights: Path,
    backend: str,
    settings: InferenceSettings,
    measurement_settings: MeasurementSettings,
    address: str | None,
    workers: int,
    on_result: Callable[[str | None], None] = lambda error: None,
    camera: CameraProfile | None = None,
) -> None:
    """Inspect ``paths`` on Ray and write every result through ``writer`` in input order."""
    ray = start_ray(address, workers)
    try:
        # a path that is not a readable file fails in its place, as the local engine says it
        slots = [
            slot
            if not isinstance(slot, InputFile) or slot.path.is_file()
            else next(file_payloads(slot.path, slot.name))
            for slot in list_inputs(paths)
        ]
        files = [slot for slot in slots if isinstance(slot, InputFile)]
        results = _ray_results(ray, files, writer, weights, backend, settings, measurement_settings, workers, camera)
        for slot in slots:
            if isinstance(slot, NamedPayload):  # an argument that names nothing: failed in its place
                writer.add_row(
                    image_record(
                        slot.name, slot.source, error=slot.error, content_sha256="", **view_columns(writer.record)
                    ),
                    [],
                    {},
                )
                on_result(slot.error)
                continue
            for row in results.take(file_key(str(slot.path))):
                if row["skipped"]:
                    writer.totals.skipped += 1
                    continue
                image, cracks = json.loads(row["image_row"]), json.loads(row["crack_rows"])
                encoded = {kind: row[kind] for kind in FILE_KINDS if row[kind]}
                writer.add_row(image, cracks, encoded)
                on_result(image["error"] if image["status"] != "ok" else None)
    finally:
        ray.shutdown()


class _OrderedResults:
    """Ray's output rows, consumed file by file in input order (``preserve_order`` keeps them so)."""

    def __init__(self, rows: Iterator[dict[str, Any]]) -> None:
        self.rows = rows
        self.head: dict[str, Any] | None = next(rows, None)

    def take(self, path: str) -> Iterator[dict[str, Any]]:
        while self.head is not None and file_key(str(self.head["path"])) == path:
            yield self.head
            self.head = next(self.rows, None)


def _ray_results(
    ray: Any,
    files: list[InputFile],
    writer: BatchWriter,
    weights: Path,
    backend: str,
    settings: InferenceSettings,
    measurement_settings: MeasurementSettings,
    workers: int,
    camera: CameraProfile | None = None,
) -> _OrderedResults:
    if not files:
        return _OrderedResults(iter(()))
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    dataset = ray.data.read_binary_files([file_key(str(item.path)) for item in files], include_paths=True)
    inspected = dataset.map_batches(
        InspectActor,
        batch_size=4,
        compute=ray.data.ActorPoolStrategy(size=workers),
        fn_constructor_kwargs={
            "weights": str(weights),
            "backend": backend,
            "settings": settings,
            "measurement_settings": measurement_settings,
            "record": writer.record,
            "reports": writer.options.reports,
            "per_image_files": writer.options.per_image_files,
            "names": {file_key(str(item.path)): (item.name, str(item.path)) for item in files},
            "done": writer.done,
            "camera": camera,
        },
        batch_format="numpy",
        num_cpus=1,
    )
    return _OrderedResults(iter(inspected.iter_rows()))
