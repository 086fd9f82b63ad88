"""The survey-vehicle frames (Passos et al., Mendeley Data 10.17632/t576ydh9v8): layout and split.

2,235 frames (1024x640) from a Brazilian highway-survey vehicle, camera high on
the vehicle looking ahead and down. Each frame is a folder ``NAME/`` holding
``NAME_RAW.jpg`` and the masks ``NAME_CRACK.png``, ``NAME_LANE.png`` and
``NAME_POTHOLE.png`` (0/255). The crack masks are sparse dashes along the
cracks; the lane mask says where the surveyed road is.

Split, fixed for every use in this project: folders sorted by name, index % 10
== 0 -> test, == 5 -> val, the rest train. Test is only ever reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crackseg.core.errors import DatasetError
from crackseg.datasets.labelled import LabelledImage, read_binary_mask

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SurveyFrame:
    """One frame of the survey-vehicle dataset and its masks."""

    folder: Path

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def image_path(self) -> Path:
        return self.folder / f"{self.name}_RAW.jpg"

    @property
    def crack_mask_path(self) -> Path:
        return self.folder / f"{self.name}_CRACK.png"

    @property
    def lane_mask_path(self) -> Path:
        return self.folder / f"{self.name}_LANE.png"

    def crack_mask(self) -> np.ndarray:
        """The dashed crack annotation, ``(H, W)`` bool."""
        return read_binary_mask(self.crack_mask_path)

    def lane_mask(self) -> np.ndarray:
        """The surveyed lane, ``(H, W)`` bool."""
        return read_binary_mask(self.lane_mask_path)


def split_of(index: int) -> str:
    """The split of the frame at ``index`` in name order: % 10 == 0 test, == 5 val, else train."""
    remainder = index % 10
    return "test" if remainder == 0 else "val" if remainder == 5 else "train"


def survey_frames(root: Path | str, split: str) -> list[SurveyFrame]:
    """Frames of ``split`` under ``root`` (the folder of frame folders, or its parent holding ``Dataset/``)."""
    if split not in SPLITS:
        raise DatasetError(f"unknown survey split '{split}' (expected one of {', '.join(SPLITS)})")
    root = Path(root)
    if (root / "Dataset").is_dir():
        root = root / "Dataset"
    if not root.is_dir():
        raise DatasetError(f"{root}: survey-vehicle folder not found")
    folders = sorted(path for path in root.iterdir() if path.is_dir() and (path / f"{path.name}_RAW.jpg").is_file())
    if not folders:
        raise DatasetError(f"{root}: no survey frames (expected NAME/NAME_RAW.jpg folders)")
    return [SurveyFrame(folder) for index, folder in enumerate(folders) if split_of(index) == split]


def survey_items(root: Path | str, split: str) -> list[LabelledImage]:
    """Frames of ``split`` as labelled images: the dashed crack mask as truth, the lane as the scoring region."""
    return [
        LabelledImage(image_path=frame.image_path, mask_path=frame.crack_mask_path, region_path=frame.lane_mask_path)
        for frame in survey_frames(root, split)
    ]
