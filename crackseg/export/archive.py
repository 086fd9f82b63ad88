"""Many output files as one ZIP, with member names that cannot escape the extraction folder."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from pathlib import PurePosixPath


def safe_member_name(name: str) -> str:
    """A relative ZIP member name: ``\\`` -> ``/``; drive letters, ``..``, ``.`` and leading ``/`` removed.

    Control characters are dropped; an empty result becomes ``"file"``.
    """
    cleaned = "".join(char for char in str(name) if char.isprintable()).replace("\\", "/")
    parts = [part for part in PurePosixPath(cleaned).parts if part not in ("", "/", ".", "..")]
    parts = [part.replace(":", "_") for part in parts]
    parts = [part for part in parts if part.strip(" .")]
    return "/".join(parts) or "file"


def batch_zip_bytes(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """Build a ZIP (deflated, in memory) from ``(member name, data)`` pairs.

    Names go through ``safe_member_name``; a repeated name gets ``-2``, ``-3``...
    before its suffix so nothing is overwritten on extraction.
    """
    buffer = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for raw_name, data in entries:
            name = _unique(safe_member_name(raw_name), used)
            used.add(name)
            archive.writestr(name, bytes(data))
    return buffer.getvalue()


def _unique(name: str, used: set[str]) -> str:
    if name not in used:
        return name
    path = PurePosixPath(name)
    counter = 2
    while True:
        candidate = str(path.with_name(f"{path.stem}-{counter}{path.suffix}"))
        if candidate not in used:
            return candidate
        counter += 1
