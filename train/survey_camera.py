"""Make the survey vehicle's camera profile from its train split's lane masks, and say how steady it is.

The Brazilian highway-survey frames (``github:biankatpas/Cracks-and-Potholes-in-Road-Images-Dataset``)
come from one camera fixed on one vehicle, so one profile serves them all. It is fitted on the
mean lane mask of the train frames (see ``crackseg.geometry.lane_calibration``); the spread of
the horizon row fitted frame by frame on the val frames says how well a single frame's lane
would calibrate an unknown camera.

    python train/survey_camera.py /work/data/biankatpas --out profiles/survey-vehicle-br.json
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python train/x.py`

from crackseg.core.errors import CrackSegError
from crackseg.datasets.survey_vehicle import survey_frames
from crackseg.geometry.camera import save_profile
from crackseg.geometry.ground import GroundView
from crackseg.geometry.lane_calibration import fit_lane, mean_lane_mask, profile_from_lane


def lane_masks(root: Path, split: str) -> list[np.ndarray]:
    """The split's lane masks (bool), in frame order."""
    masks = []
    for frame in survey_frames(root, split):
        lane = cv2.imread(str(frame.lane_mask_path), cv2.IMREAD_GRAYSCALE)
        if lane is not None:
            masks.append(lane > 127)
    return masks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="the dataset folder (holding Dataset/)")
    parser.add_argument("--out", type=Path, required=True, help="profile JSON to write")
    parser.add_argument("--lane-width", type=float, default=3.6, help="lane width (m); Brazilian federal highways 3.6")
    parser.add_argument("--hfov", type=float, default=60.0, help="assumed horizontal field of view (degrees)")
    parser.add_argument("--far-row", type=float, default=40.0, help="far edge of the region (frame row)")
    parser.add_argument("--near-row", type=float, default=630.0, help="near edge of the region (frame row)")
    parser.add_argument(
        "--inspect-on",
        choices=("frame", "top-view"),
        default="frame",
        help="where the street model looks (frame: val lane cell F1 0.667 against 0.600 on the top view, "
        "for the street model trained on the frames as they are)",
    )
    args = parser.parse_args(argv)
    train = lane_masks(args.root, "train")
    fit = fit_lane(mean_lane_mask(train, (1024, 640)))
    profile = profile_from_lane(
        fit,
        name="survey-vehicle-br",
        lane_width_m=args.lane_width,
        hfov_deg=args.hfov,
        near_row=args.near_row,
        far_row=args.far_row,
        margin_m=0.1,
    )
    profile = replace(profile, inspect_on=args.inspect_on)
    save_profile(profile, args.out)
    view = GroundView.for_frame(profile, (1024, 640))
    horizons = []
    for mask in lane_masks(args.root, "val"):
        try:
            horizons.append(fit_lane(mask).horizon_row)
        except CrackSegError:
            continue
    spread = {
        "val_frames_fitted": len(horizons),
        "horizon_row_median": round(float(np.median(horizons)), 1),
        "horizon_row_iqr": round(float(np.subtract(*np.percentile(horizons, [75, 25]))), 1),
        "within_20_rows_of_profile": round(float(np.mean(np.abs(np.array(horizons) - fit.horizon_row) <= 20)), 3),
    }
    print(json.dumps({"profile": profile.to_dict(), "horizon_row": round(fit.horizon_row, 1), "per_frame": spread,
                      "resolution": view.resolution_table((3, 4, 5, 6, 8, 10, 12, 15, 20))}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
