"""Pack a YOLO segmentation dataset into a few small archives, to train on a machine reached through a size limit.

Why: the GPU machine lent to some sessions (the workplace's `device` tool) receives at most 64 MiB a call,
working tree included, and starts bare, while the street crops take 450 MB as 640-px JPEGs. Training at
416 px never sees more than 416 px of them, so each image is resized here once, the way Ultralytics'
training loader resizes (long side to ``--imgsz``, bilinear), and stored as WebP. The labels go as they
are (normalised polygons do not change with the size). The val split is cut to ``--val-images`` taken
at random with a fixed seed: on that machine it only feeds Ultralytics' end-of-run check, the candidates
are scored here afterwards. The files are shared out among xz tar parts of at most ``--part-mib`` each,
one part per call; unpack each outside the checkout there (``tar xJf PART -C /root/street``), since an
ignored folder inside it is not kept from one call to the next.

Example (the soup ingredients of 2026-12-04):

    python train/pack_dataset.py /work/data/street/data.yaml --out .gpu --imgsz 416 --quality 80 \
        --val-images 64 --part-mib 40

WebP at quality 80 differs from the 416-px image by about 37 dB PSNR on the street crops: a small
loss, measured through the candidates' val scores, not assumed away.
"""

from __future__ import annotations

import argparse
import io
import math
import random
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python train/x.py`

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from crackseg.core.errors import CrackSegError, DatasetError  # noqa: E402
from crackseg.datasets.labelled import YoloDataset  # noqa: E402

LABEL_XZ_RATIO = 3.5
"""About how much xz shrinks YOLO polygon labels at the least (7x on the street crops' 32 MB, 3.5x on a few
small files): only a first guess at the parts' count, which grows until every part is under the limit."""


@dataclass(frozen=True)
class PackedFile:
    """One file of the packed dataset: its path inside the archive and its bytes."""

    arcname: str
    data: bytes

    @property
    def packed_size_estimate(self) -> float:
        """Bytes it adds to an xz part: WebP does not shrink further, text labels do."""
        return len(self.data) / LABEL_XZ_RATIO if self.arcname.endswith(".txt") else float(len(self.data))


def resize_for_training(bgr: np.ndarray, imgsz: int) -> np.ndarray:
    """The image with its long side at ``imgsz`` px, exactly as Ultralytics' augmenting loader resizes it.

    ``bgr`` is (H, W, 3) uint8. Ultralytics' ``load_image`` rounds each side up (``ceil``, capped at
    ``imgsz``) and interpolates bilinearly while augmenting, unlike ``crackseg.export.overlays``'s
    ``downscale_to_fit`` (rounded, area): the packed image must be the one training would have made.
    An image already no larger than ``imgsz`` is returned unchanged, since Ultralytics enlarges small
    images itself and would do so from the original.
    """
    height, width = bgr.shape[:2]
    ratio = imgsz / max(height, width)
    if ratio >= 1.0:
        return bgr
    size_wh = (min(math.ceil(width * ratio), imgsz), min(math.ceil(height * ratio), imgsz))
    return cv2.resize(bgr, size_wh, interpolation=cv2.INTER_LINEAR)


def encode_webp(bgr: np.ndarray, quality: int) -> bytes:
    """WebP bytes of a (H, W, 3) uint8 BGR image at ``quality`` (1-100)."""
    ok, buffer = cv2.imencode(".webp", bgr, [cv2.IMWRITE_WEBP_QUALITY, quality])
    if not ok:
        raise DatasetError("OpenCV could not encode WebP")
    return buffer.tobytes()


def packed_split(
    dataset: YoloDataset, split: str, *, imgsz: int, quality: int, limit: int | None, seed: int
) -> list[PackedFile]:
    """The split's images (resized, WebP) and their label files, ``limit`` images at most, in name order."""
    items = dataset.items(split)
    if limit is not None and len(items) > limit:
        items = sorted(random.Random(seed).sample(items, limit), key=lambda item: item.image_path)
    files: list[PackedFile] = []
    for item in items:
        bgr = cv2.imread(str(item.image_path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DatasetError(f"{item.image_path}: not a readable image")
        webp = encode_webp(resize_for_training(bgr, imgsz), quality)
        files.append(PackedFile(f"{split}/images/{item.image_path.stem}.webp", webp))
        if item.label_path is not None:
            files.append(PackedFile(f"{split}/labels/{item.image_path.stem}.txt", item.label_path.read_bytes()))
    return files


def share_into_parts(files: list[PackedFile], parts_count: int) -> list[list[PackedFile]]:
    """The files in ``parts_count`` parts (fewer if there are fewer images) of about equal estimated packed size.

    Order is kept, and a cut falls only before an image, so an image and its label stay in one part.
    """
    total = sum(item.packed_size_estimate for item in files)
    target = total / max(1, parts_count)
    parts: list[list[PackedFile]] = [[]]
    filled = 0.0
    for item in files:
        starts_image = item.arcname.split("/")[1] == "images"
        if starts_image and parts[-1] and len(parts) < parts_count and filled >= target * len(parts):
            parts.append([])
        parts[-1].append(item)
        filled += item.packed_size_estimate
    return parts


def write_part(files: list[PackedFile], path: Path) -> int:
    """Write one xz tar part; its size in bytes."""
    with tarfile.open(path, "w:xz", preset=1) as archive:
        for item in files:
            info = tarfile.TarInfo(item.arcname)
            info.size = len(item.data)
            archive.addfile(info, io.BytesIO(item.data))
    return path.stat().st_size


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """What to pack, how small, and where the parts go."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="the dataset's data.yaml (train and val splits)")
    parser.add_argument("--out", type=Path, required=True, help="folder of the parts (ignored, if in the checkout)")
    parser.add_argument("--imgsz", type=int, default=416, help="the training image size (px): long side after resizing")
    parser.add_argument("--quality", type=int, default=80, help="WebP quality, 1-100")
    parser.add_argument("--val-images", type=int, default=64, help="val images kept (0: all)")
    parser.add_argument("--part-mib", type=float, default=40.0, help="largest part (MiB)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the val images' draw")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Pack, print each part's name, file count and size; exit 2 with one line on a bad dataset or a part too big."""
    args = parse_args(argv)
    if not 1 <= args.quality <= 100 or args.imgsz < 32 or args.part_mib <= 0:
        print("error: --quality is 1-100, --imgsz at least 32, --part-mib above 0", file=sys.stderr)
        return 2
    try:
        dataset = YoloDataset.from_yaml(args.data)
        files = packed_split(dataset, "train", imgsz=args.imgsz, quality=args.quality, limit=None, seed=args.seed)
        files += packed_split(
            dataset, "val", imgsz=args.imgsz, quality=args.quality, limit=args.val_images or None, seed=args.seed
        )
    except CrackSegError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    part_bytes = int(args.part_mib * 2**20)
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in args.out.glob("part*.tar.xz"):
        stale.unlink()
    images_count = sum(item.arcname.split("/")[1] == "images" for item in files)
    parts_count = max(1, math.ceil(sum(item.packed_size_estimate for item in files) / part_bytes))
    while True:
        parts = share_into_parts(files, parts_count)
        sizes = [write_part(part, args.out / f"part{index}.tar.xz") for index, part in enumerate(parts, start=1)]
        if max(sizes) <= part_bytes:
            break
        if parts_count >= images_count:
            print(f"error: an image with its label packs to over --part-mib {args.part_mib}", file=sys.stderr)
            return 2
        parts_count += 1
    for index, (part, size) in enumerate(zip(parts, sizes, strict=True), start=1):
        print(f"{args.out / f'part{index}.tar.xz'}: {len(part)} files, {size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
