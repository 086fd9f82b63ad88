"""A synthetic survey-vehicle dataset for evaluation tests: the survey's folder layout with known masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_survey_frames(root: Path, sample: Path, count: int = 11) -> Path:
    """``count`` frames ``frameNN/frameNN_{RAW.jpg,CRACK.png,LANE.png}`` under ``root``; returns ``root``.

    Each 832x416 frame holds ``sample`` on its left half and black on the right; the crack mask is one
    3-px line across the left half and the lane mask is the left half. With 11 frames, 0 and 10 form the
    test split and 5 the val split (index % 10).
    """
    rgb = np.asarray(Image.open(sample).convert("RGB").resize((416, 416)))
    for index in range(count):
        name = f"frame{index:02d}"
        folder = root / name
        folder.mkdir(parents=True)
        frame = np.zeros((416, 832, 3), np.uint8)
        frame[:, :416] = rgb
        Image.fromarray(frame).save(folder / f"{name}_RAW.jpg")
        crack = np.zeros((416, 832), np.uint8)
        crack[200:203, 50:350] = 255
        Image.fromarray(crack).save(folder / f"{name}_CRACK.png")
        lane = np.zeros((416, 832), np.uint8)
        lane[:, :416] = 255
        Image.fromarray(lane).save(folder / f"{name}_LANE.png")
    return root
