"""One segmenter shared by many threads, as the app shares it between browser sessions.

``tests/test_segmenter.py`` checks ``Segmenter.predict`` on the PyTorch backend
from 8 threads. Here: the exported (ONNX Runtime) backend, and the whole
inspection pipeline (decode -> predict -> measure) that the Segment page and
the CLI run, on PyTorch. Each of 8 threads takes a different sample image and
goes round several times; every result must equal the one sequential calls give,
to the pixel, with no exception.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from crackseg.core.locations import SHIPPED_MODEL
from crackseg.inference.backends import ensure_export, export_cache_dir
from crackseg.inference.prediction import CrackPrediction
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.io.image_io import load_image
from crackseg.io.inputs import NamedPayload
from crackseg.measurement.measure import MeasurementSettings
from crackseg.pipeline.inspection import Inspection, inspect_payloads

SAMPLE_PATHS = sorted((Path(__file__).resolve().parents[1] / "samples" / "images").glob("*.jpg"))
THREADS = 8
ROUNDS = 3
JOIN_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def onnx_segmenter(tmp_path_factory: pytest.TempPathFactory) -> Segmenter:
    """The ONNX Runtime backend on a private copy of the shipped weights (export seeded from the repo's cache)."""
    weights = tmp_path_factory.mktemp("model") / "best.pt"
    shutil.copy2(SHIPPED_MODEL, weights)
    repo_cache = export_cache_dir(SHIPPED_MODEL)
    if repo_cache.is_dir():
        shutil.copytree(repo_cache, export_cache_dir(weights), dirs_exist_ok=True)
    ensure_export(weights, "onnx")
    return Segmenter(weights, backend="onnx")


@pytest.fixture(scope="module")
def torch_segmenter() -> Segmenter:
    return Segmenter(backend="torch")


def run_in_threads(work: Callable[[int], Any]) -> tuple[dict[tuple[int, int], Any], list[BaseException]]:
    """``work(i)`` for thread ``i`` in 0..7, ``ROUNDS`` times each, all threads released at once.

    Returns the results keyed by (thread, round) and every exception raised.
    """
    results: dict[tuple[int, int], Any] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def thread_main(index: int) -> None:
        try:
            barrier.wait()
            for round_index in range(ROUNDS):
                results[(index, round_index)] = work(index)
        except BaseException as error:  # noqa: BLE001 - collected and reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=thread_main, args=(index,), name=f"session-{index}") for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT_S)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return results, errors


def assert_same_prediction(actual: CrackPrediction, expected: CrackPrediction) -> None:
    assert len(actual) == len(expected)
    np.testing.assert_array_equal(actual.masks, expected.masks)
    np.testing.assert_array_equal(actual.confidence, expected.confidence)
    np.testing.assert_array_equal(actual.xyxy, expected.xyxy)


def test_eight_threads_on_one_onnx_segmenter_equal_sequential_calls(onnx_segmenter: Segmenter) -> None:
    assert len({path.read_bytes() for path in SAMPLE_PATHS}) == THREADS, "each thread needs its own image"
    images = [load_image(path) for path in SAMPLE_PATHS]
    settings = InferenceSettings()
    sequential = [onnx_segmenter.predict(rgb, settings) for rgb in images]
    assert sum(len(prediction) > 0 for prediction in sequential) >= THREADS - 1
    results, errors = run_in_threads(lambda index: onnx_segmenter.predict(images[index], settings))
    assert not errors, errors
    assert len(results) == THREADS * ROUNDS
    for (index, _), prediction in results.items():
        assert_same_prediction(prediction, sequential[index])


def test_eight_threads_through_the_inspection_pipeline_equal_sequential_runs(torch_segmenter: Segmenter) -> None:
    """Bytes in, measured cracks out, as the Segment page runs it for each browser session."""
    payloads = [NamedPayload(path.name, path.read_bytes()) for path in SAMPLE_PATHS]
    settings = InferenceSettings(imgsz=320)  # smaller than the default: the same check, less CPU
    measurement_settings = MeasurementSettings(mm_per_px=1.5)

    def inspect(index: int) -> Inspection:
        [result] = list(inspect_payloads(torch_segmenter, [payloads[index]], settings, measurement_settings))
        assert isinstance(result, Inspection), result
        return result

    sequential = [inspect(index) for index in range(THREADS)]
    assert sum(inspection.measurement.count > 0 for inspection in sequential) >= THREADS - 1
    results, errors = run_in_threads(inspect)
    assert not errors, errors
    assert len(results) == THREADS * ROUNDS
    for (index, _), inspection in results.items():
        expected = sequential[index]
        assert inspection.name == expected.name
        np.testing.assert_array_equal(inspection.rgb, expected.rgb)
        assert_same_prediction(inspection.prediction, expected.prediction)
        assert inspection.measurement.summary() == expected.measurement.summary()
