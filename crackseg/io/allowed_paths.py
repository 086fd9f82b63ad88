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
from pathlib import Path

from crackseg.core.errors import CrackSegError
from crackseg.core.locations import PROJECT_ROOT, SAMPLES_DIR

DATA_DIRS_ENV_VAR = "CRACKSEG_DATA_DIRS"
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
