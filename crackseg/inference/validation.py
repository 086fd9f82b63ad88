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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from crackseg.datasets.labelled import YoloDataset
from crackseg.inference.backends import openvino_full_precision, openvino_on_pytorch_inputs
from crackseg.metrics.ultralytics_keys import translate_ultralytics_metrics


@dataclass(frozen=True, eq=False)
class ValidationImageStats:
    """Ultralytics' matching of each image's predicted masks to its labels, kept image by image.

    Why: Ultralytics pools every image's predictions into one mask mAP50. Kept per image (in the
    validator's order), the images can be resampled and the mAP50 computed again exactly as
    Ultralytics computes it (``ap_per_class``), for a bootstrap interval (``training.domains``).

    Attributes (one entry per image):
        image_names: file names.
        true_positive: ``(n_pred, 10)`` bool, each prediction matched at mask IoU 0.50, 0.55, ..., 0.95.
        confidence: ``(n_pred,)`` scores (down to the validator's conf 0.001).
        predicted_class, target_class: ``(n_pred,)`` and ``(n_labels,)`` class ids.
    """

    image_names: tuple[str, ...]
    true_positive: tuple[np.ndarray, ...]
    confidence: tuple[np.ndarray, ...]
    predicted_class: tuple[np.ndarray, ...]
    target_class: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        lengths = {len(self.image_names), len(self.true_positive), len(self.confidence)}
        lengths |= {len(self.predicted_class), len(self.target_class)}
        if len(lengths) != 1:
            raise ValueError(f"per-image validation stats of unequal lengths {sorted(lengths)}")

    @property
    def images(self) -> int:
        """How many images were validated."""
        return len(self.image_names)

    def mask_map50(self, images: Sequence[int] | np.ndarray | None = None) -> float:
        """Mask mAP50 over ``images`` (indices, repeats allowed; default all), as Ultralytics computes it."""
        from ultralytics.utils.metrics import ap_per_class

        chosen = range(self.images) if images is None else images
        target = np.concatenate([self.target_class[index] for index in chosen])
        if target.size == 0:
            return 0.0
        average_precision = ap_per_class(
            np.concatenate([self.true_positive[index] for index in chosen]),
            np.concatenate([self.confidence[index] for index in chosen]),
            np.concatenate([self.predicted_class[index] for index in chosen]),
            target,
        )[5]
        return float(average_precision[:, 0].mean()) if len(average_precision) else 0.0


def validate_model(
    model: Any, dataset: YoloDataset | Path | str, split: str, imgsz: int, *, device: str = "cpu"
) -> dict[str, float]:
    """Ultralytics' validator on a split for an Ultralytics ``YOLO`` model: box and mask mAP (see below)."""
    return validate_model_per_image(model, dataset, split, imgsz, device=device)[0]


def validate_model_per_image(
    model: Any, dataset: YoloDataset | Path | str, split: str, imgsz: int, *, device: str = "cpu"
) -> tuple[dict[str, float], ValidationImageStats]:
    """Ultralytics' validator on a split for an Ultralytics ``YOLO`` model (any backend): box and mask mAP.

    Ultralytics resolves a relative ``path:`` against the working directory, not
    the data.yaml's folder as ``YoloDataset`` does; so it gets a temporary
    data.yaml whose splits are the absolute folder this evaluation read, and
    both sets of numbers always describe the same images. Runs in a temporary
    project folder so nothing is written beside the code. OpenVINO models are
    validated in FP32, the precision crackseg runs them in. Returns the metrics and
    the mask matches image by image (``ValidationImageStats``), read from the validator
    after its last batch, before it pools and clears them.
    """
    from ultralytics.utils import LOGGER  # Ultralytics loads lazily: the CLI's start-up stays fast

    if not isinstance(dataset, YoloDataset):
        dataset = YoloDataset.from_yaml(dataset)
    images_dir = dataset.images_dir(split)
    previous_level = LOGGER.level
    LOGGER.setLevel(logging.WARNING)  # keep stdout clean for `evaluate --json`
    kept: dict[str, Any] = {}

    def keep_image_stats(validator: Any) -> None:  # after each batch; the last one holds every image
        kept["stats"] = {key: list(values) for key, values in validator.metrics.stats.items()}
        kept["names"] = [Path(name).name for name in validator.dataloader.dataset.im_files]

    model.add_callback("on_val_batch_end", keep_image_stats)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="crackseg-val-") as workdir,
            contextlib.redirect_stdout(sys.stderr),
            openvino_full_precision(),
            openvino_on_pytorch_inputs(),
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
        model.callbacks["on_val_batch_end"].remove(keep_image_stats)
    stats = kept.get("stats", {})
    image_stats = ValidationImageStats(
        image_names=tuple(kept.get("names", ())),
        true_positive=tuple(np.asarray(value, dtype=bool) for value in stats.get("tp_m", ())),
        confidence=tuple(np.asarray(value, dtype=np.float64) for value in stats.get("conf", ())),
        predicted_class=tuple(np.asarray(value) for value in stats.get("pred_cls", ())),
        target_class=tuple(np.asarray(value) for value in stats.get("target_cls", ())),
    )
    return translate_ultralytics_metrics(metrics.results_dict), image_stats
