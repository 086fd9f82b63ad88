"""Ultralytics' validator (``model.val()``) on a YOLO split: box and mask mAP, in crackseg's metric names.

Why here: the evaluation, the INT8 accuracy gate and the promotion all need the
same validator call on the same images, at the same precision (OpenVINO in FP32),
so it is written once, below every stage that uses it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from crackseg.datasets.labelled import YoloDataset
from crackseg.inference.backends import openvino_full_precision
from crackseg.metrics.ultralytics_keys import translate_ultralytics_metrics


def validate_model(
    model: Any, dataset: YoloDataset | Path | str, split: str, imgsz: int, *, device: str = "cpu"
) -> dict[str, float]:
    """Ultralytics' validator on a split for an Ultralytics ``YOLO`` model (any backend): box and mask mAP.

    Ultralytics resolves a relative ``path:`` against the working directory, not
    the data.yaml's folder as ``YoloDataset`` does; so it gets a temporary
    data.yaml whose splits are the absolute folder this evaluation read, and
    both sets of numbers always describe the same images. Runs in a temporary
    project folder so nothing is written beside the code. OpenVINO models are
    validated in FP32, the precision crackseg runs them in.
    """
    from ultralytics.utils import LOGGER  # Ultralytics loads lazily: the CLI's start-up stays fast

    if not isinstance(dataset, YoloDataset):
        dataset = YoloDataset.from_yaml(dataset)
    images_dir = dataset.images_dir(split)
    previous_level = LOGGER.level
    LOGGER.setLevel(logging.WARNING)  # keep stdout clean for `evaluate --json`
    try:
        with (
            tempfile.TemporaryDirectory(prefix="crackseg-val-") as workdir,
            contextlib.redirect_stdout(sys.stderr),
            openvino_full_precision(),
        ):
            resolved_yaml = Path(workdir) / "data.yaml"
            resolved = {"path": str(dataset.root), "names": dataset.class_names}
            resolved |= {key: str(images_dir) for key in ("train", "val", "test")}
            resolved_yaml.write_text(yaml.safe_dump(resolved), encoding="utf-8")
            metrics = model.val(
                data=str(resolved_yaml),
                split="val",
                imgsz=imgsz,
                batch=16,
                conf=0.001,
                iou=0.7,
                device=device,
                plots=False,
                save_json=False,
                project=workdir,
                name="val",
                verbose=False,
                workers=0,
            )
    finally:
        LOGGER.setLevel(previous_level)
    return translate_ultralytics_metrics(metrics.results_dict)
