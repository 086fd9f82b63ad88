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
    source_path: str = ""  # the full path as given (``name`` is relative to the argument); "" for uploads

    @property
    def source(self) -> str:
        """Where the input came from: the full path as given, or the name of an upload."""
        return self.source_path or self.name

    @property
    def ok(self) -> bool:
        return self.error is None


def expand_named_payloads(items: Iterable[tuple[str, bytes]], source_path: str = "") -> Iterator[NamedPayload]:
    """Pass images through and open ZIPs (by content, not by name) into their image members.

    A member is named ``<archive name>/<member>``; with ``source_path`` (the archive's path on
    disk) its source is ``<source_path>/<member>``.
    """
    for name, data in items:
        if is_zip(data):
            try:
                for member in iter_zip_images(data, name):
                    member_source = source_path + member.name[len(name) :] if source_path else ""
                    yield NamedPayload(member.name, member.data, member.error, member_source)
            except ImageLoadError as error:
                yield NamedPayload(name, error=str(error), source_path=source_path)
        else:
            yield NamedPayload(name, data, source_path=source_path)


@dataclass(frozen=True)
class InputFile:
    """A file an argument names, not read yet: its path and its name relative to the argument."""

    path: Path
    name: str


def list_inputs(paths: Iterable[Path | str]) -> Iterator[InputFile | NamedPayload]:
    """The files the arguments name, in order, without reading them (an empty folder is an error payload).

    Names are relative to the argument given: ``photos/a/IMG_1.jpg`` found in the folder
    argument ``photos`` is named ``a/IMG_1.jpg``; a file argument is named by its file name.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            images = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (*IMAGE_SUFFIXES, ".zip"))
            if not images:
                yield NamedPayload(
                    path.name or str(path), error=f"{path}: no images in this folder", source_path=str(path)
                )
            for image in images:
                yield InputFile(image, image.relative_to(path).as_posix())
        else:
            yield InputFile(path, path.name or str(path))


def expand_paths(paths: Iterable[Path | str]) -> Iterator[NamedPayload]:
    """Files, folders (their images, recursively, sorted) and ZIPs on disk, as named payloads (``list_inputs``).

    The full path as given is each payload's ``source_path`` (and what error messages name).
    """
    for item in list_inputs(paths):
        if isinstance(item, NamedPayload):
            yield item
        else:
            yield from file_payloads(item.path, item.name)


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


def file_payloads(path: Path, name: str, data: bytes | None = None) -> Iterator[NamedPayload]:
    """One file on disk as payloads (a ZIP gives its members); errors name the full path as given.

    ``data``: the file's bytes when they were read elsewhere (a cluster reader); then nothing is read here.
    """
    source = str(path)
    if data is not None:
        if len(data) > MAX_FILE_BYTES:
            message = f"{source}: {len(data) / 1e6:.1f} MB, over the {MAX_FILE_BYTES / 1e6:.1f} MB file limit"
            yield NamedPayload(name, error=message, source_path=source)
            return
        yield from expand_named_payloads([(name, data)], source_path=source)
        return
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        yield NamedPayload(name, error=f"{source}: file not found", source_path=source)
        return
    except OSError as error:
        yield NamedPayload(name, error=f"{source}: cannot be read ({error.strerror or error})", source_path=source)
        return
    if size > MAX_FILE_BYTES:
        limit_mb = MAX_FILE_BYTES / 1e6
        message = f"{source}: {size / 1e6:.1f} MB, over the {limit_mb:.1f} MB file limit"
        yield NamedPayload(name, error=message, source_path=source)
        return
    try:
        data = read_image_bytes(path)
    except ImageLoadError as error:  # its message starts with the short file name
        message = str(error)
        short = f"{path.name}:"
        error_text = source + message[len(short) - 1 :] if message.startswith(short) else message
        yield NamedPayload(name, error=error_text, source_path=source)
        return
    yield from expand_named_payloads([(name, data)], source_path=source)
