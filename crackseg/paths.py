"""Server-side data paths a browser user may name: only inside folders the operator allowed.

The app's analysis pages let a user type a dataset path (a ``data.yaml``, a
dataset folder, or image and mask folders). Reading those files shows their
pixels in the browser, so a typed path must stay inside the folders listed in
``$CRACKSEG_DATA_DIRS`` (``os.pathsep``-separated) or the repository's
``samples/``. Paths are resolved first (``..`` and symlinks followed), then
checked for containment, so ``samples/../../etc`` is refused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from crackseg.datasets import LabelledImage, YoloDataset, mask_folder_items
from crackseg.errors import CrackSegError, DatasetError
from crackseg.model_loading import PROJECT_ROOT

DATA_DIRS_ENV_VAR = "CRACKSEG_DATA_DIRS"
SAMPLES_DIR = PROJECT_ROOT / "samples"
SAMPLES_DATA_YAML = SAMPLES_DIR / "data.yaml"
MAX_PATH_CHARS = 1000


def allowed_data_roots() -> list[Path]:
    """Folders a user may read datasets from: each entry of ``$CRACKSEG_DATA_DIRS``, then ``samples/``.

    Entries are resolved; blank entries are ignored. Read at call time, so a
    changed environment takes effect without a restart.
    """
    configured = os.environ.get(DATA_DIRS_ENV_VAR, "")
    roots = [Path(entry.strip()).expanduser().resolve() for entry in configured.split(os.pathsep) if entry.strip()]
    return [*roots, SAMPLES_DIR.resolve()]


def resolve_allowed_path(
    user_text: str,
    allowed_roots: Sequence[Path],
    *,
    base: Path = PROJECT_ROOT,
    must_exist: bool = True,
) -> Path:
    """Resolve a typed path and check it lies inside one of ``allowed_roots``.

    A relative path is taken relative to ``base`` (the repository root, so
    ``samples/data.yaml`` works). ``..`` parts and symlinks are resolved
    before the check, so neither can escape a root. Returns the resolved path.

    Raises ``CrackSegError`` (one line) for an empty or over-long text, a NUL
    byte, a path outside every root, or (``must_exist``) a missing path.
    """
    text = user_text.strip()
    if not text:
        raise CrackSegError("No path given.")
    if len(text) > MAX_PATH_CHARS or "\x00" in text:
        raise CrackSegError("That is not a usable path (too long or contains a NUL byte).")
    candidate = Path(text).expanduser()
    if not candidate.is_absolute():
        candidate = base / candidate
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError) as error:  # symlink loops, unreadable parents
        raise CrackSegError(f"{text}: cannot be resolved ({error})") from None
    roots = [Path(root).resolve() for root in allowed_roots]
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        listed = ", ".join(str(root) for root in roots) or "none"
        raise CrackSegError(
            f"{text}: outside the allowed data folders ({listed}). "
            f"The operator can allow more with {DATA_DIRS_ENV_VAR}."
        )
    if must_exist and not resolved.exists():
        raise CrackSegError(f"{text}: not found")
    return resolved


@dataclass(frozen=True)
class LabelledData:
    """Labelled images a user named, after the path checks.

    Attributes:
        items: the images and where their truth lies.
        source: a one-line description for reports (``"<data.yaml>:<split>"`` for YOLO data).
        yaml_path: the resolved ``data.yaml`` of a YOLO dataset, ``None`` for mask folders.
        split: the split read from ``yaml_path`` (``""`` for mask folders).
    """

    items: tuple[LabelledImage, ...]
    source: str
    yaml_path: Path | None = None
    split: str = ""


def open_labelled_data(
    data_text: str,
    split: str = "test",
    masks_text: str | None = None,
    *,
    allowed_roots: Sequence[Path] | None = None,
) -> LabelledData:
    """Labelled images named by a user, checked against ``allowed_roots`` (default ``allowed_data_roots()``).

    - ``masks_text`` given: ``data_text`` is an image folder and ``masks_text``
      its binary-mask folder (paired by file stem);
    - ``data_text`` a ``.yaml`` file, or a folder holding ``data.yaml``: a YOLO
      dataset, of which ``split`` is read. The split's image folder must also
      lie inside an allowed root (a data.yaml cannot point elsewhere).

    Raises ``CrackSegError`` / ``DatasetError`` with a one-line message.
    """
    roots = list(allowed_roots) if allowed_roots is not None else allowed_data_roots()
    path = resolve_allowed_path(data_text, roots)
    if masks_text is not None:
        masks = resolve_allowed_path(masks_text, roots)
        return LabelledData(tuple(mask_folder_items(path, masks)), f"images {path} + masks {masks}")
    yaml_path = path / "data.yaml" if path.is_dir() else path
    if path.is_dir() and not yaml_path.is_file():
        raise DatasetError(f"{data_text}: a folder without data.yaml (give a data.yaml, or image and mask folders)")
    if yaml_path.suffix.lower() not in (".yaml", ".yml"):
        raise DatasetError(f"{data_text}: expected a data.yaml file or a dataset folder")
    dataset = YoloDataset.from_yaml(yaml_path)
    resolve_allowed_path(str(dataset.images_dir(split)), roots)
    return LabelledData(tuple(dataset.items(split)), f"{dataset.yaml_path}:{split}", dataset.yaml_path, split)


def open_report_data(source: str, *, allowed_roots: Sequence[Path] | None = None) -> LabelledData:
    """Re-open the YOLO split an evaluation report names as ``"<data.yaml>:<split>"`` (same path checks).

    Raises ``CrackSegError`` when the source is not in that form, lies outside
    the allowed folders, or is not available on this machine.
    """
    yaml_text, separator, split = source.rpartition(":")
    if not separator or not yaml_text or not split or "/" in split or "\\" in split:
        raise DatasetError(f"{source}: not a '<data.yaml>:<split>' evaluation source")
    return open_labelled_data(yaml_text, split, allowed_roots=allowed_roots)
