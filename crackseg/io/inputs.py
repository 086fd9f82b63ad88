"""Turning what a user hands over (paths, folders, uploads, ZIPs) into named image bytes.

The CLI and the app both go through ``expand_named_payloads``, so a ZIP is
handled the same way whether it came from a disk path or a browser upload.
Errors are per item (one line each) so one bad file never stops a batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from crackseg.core.errors import ImageLoadError
from crackseg.io.archives import is_zip, iter_zip_images
from crackseg.io.image_io import IMAGE_SUFFIXES, read_image_bytes

MAX_FILE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class NamedPayload:
    """An image's display name and bytes, or the one-line reason it cannot be used."""

    name: str
    data: bytes | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def expand_named_payloads(items: Iterable[tuple[str, bytes]]) -> Iterator[NamedPayload]:
    """Pass images through and open ZIPs (by content, not by name) into their image members."""
    for name, data in items:
        if is_zip(data):
            try:
                for member in iter_zip_images(data, name):
                    yield NamedPayload(member.name, member.data, member.error)
            except ImageLoadError as error:
                yield NamedPayload(name, error=str(error))
        else:
            yield NamedPayload(name, data)


def expand_paths(paths: Iterable[Path | str]) -> Iterator[NamedPayload]:
    """Files, folders (their images, recursively, sorted) and ZIPs on disk, as named payloads."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            images = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (*IMAGE_SUFFIXES, ".zip"))
            if not images:
                yield NamedPayload(str(path), error=f"{path}: no images in this folder")
            for image in images:
                yield from _file_payloads(image, str(image))
        else:
            yield from _file_payloads(path, str(path))


def count_inputs(paths: Iterable[Path | str]) -> int | None:
    """How many images ``expand_paths`` will yield, for a progress total; ``None`` when a ZIP makes it unknown.

    Lists folders the same way ``expand_paths`` does (no file is read), so it costs a directory walk.
    """
    total = 0
    for raw in paths:
        path = Path(raw)
        files = (
            [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (*IMAGE_SUFFIXES, ".zip")]
            if path.is_dir()
            else [path]
        )
        if any(file.suffix.lower() == ".zip" for file in files):
            return None
        total += max(len(files), 1)  # an empty folder yields one failure line
    return total


def _file_payloads(path: Path, name: str) -> Iterator[NamedPayload]:
    """One file on disk as payloads (a ZIP gives its members); errors carry the full ``name``."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        yield NamedPayload(name, error=f"{name}: file not found")
        return
    except OSError as error:
        yield NamedPayload(name, error=f"{name}: cannot be read ({error.strerror or error})")
        return
    if size > MAX_FILE_BYTES:
        limit_mb = MAX_FILE_BYTES / 1e6
        yield NamedPayload(name, error=f"{name}: {size / 1e6:.1f} MB, over the {limit_mb:.1f} MB file limit")
        return
    try:
        data = read_image_bytes(path)
    except ImageLoadError as error:  # its message starts with the short file name
        message = str(error)
        short = f"{path.name}:"
        yield NamedPayload(name, error=name + message[len(short) - 1 :] if message.startswith(short) else message)
        return
    yield from expand_named_payloads([(name, data)])
