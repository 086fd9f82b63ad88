"""Reading images out of ZIP archives in memory, with caps against hostile archives.

Members are never written to disk, so ``../`` or absolute member names cannot
escape anywhere; they only become display names. Caps: number of members,
declared and *actual* uncompressed size per member and in total (a ZIP bomb
lies in its header; reading stops at the cap whatever the header says, and is
done in small chunks so a lying member never inflates past what is kept),
archives whose members share or overlap their data (the non-recursive ZIP bomb:
many directory entries inflating one compressed block) are refused, an archive
whose file list (central directory) is too large to be a real one is refused
before ``zipfile`` parses it (millions of entries would cost gigabytes and
minutes), and nested archives are refused rather than opened.
"""

from __future__ import annotations

import io
import itertools
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from crackseg.core.errors import ImageLoadError
from crackseg.io.image_io import IMAGE_SUFFIXES

MAX_MEMBERS = 1000
MAX_MEMBER_BYTES = 100 * 1024 * 1024
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
MAX_RATIO = 200.0
READ_CHUNK_BYTES = 1024 * 1024
DIRECTORY_BYTES_PER_MEMBER = 4096  # a central-directory entry is 46 bytes + name + extra + comment
_LOCAL_HEADER_MIN_BYTES = 30  # a local file header without its name and extra field
_END_SEARCH_BYTES = 22 + 65_535  # the end record and the longest archive comment


@dataclass(frozen=True)
class ArchiveMember:
    """An image file from an archive: a display name and its bytes, or why it was skipped."""

    name: str
    data: bytes | None = None
    error: str | None = None


def display_name(archive_name: str, member_name: str) -> str:
    """``archive.zip/sub/x.jpg`` with ``..``, drive letters and leading slashes removed."""
    parts = [part for part in PurePosixPath(member_name.replace("\\", "/")).parts if part not in ("", "/", "..", ".")]
    parts = [part.replace(":", "_") for part in parts]
    return f"{archive_name}/{'/'.join(parts) or 'unnamed'}"


def iter_zip_images(
    data: bytes,
    archive_name: str = "archive.zip",
    *,
    max_members: int | None = None,
    max_member_bytes: int | None = None,
    max_total_bytes: int | None = None,
    max_ratio: float | None = None,
) -> Iterator[ArchiveMember]:
    """Yield the image members of a ZIP given as bytes, in archive order.

    A damaged archive, or one with more than ``max_members`` files, raises
    ``ImageLoadError`` (one line). Members that break a cap or are nested
    archives come back as ``ArchiveMember`` with ``error`` set, so a caller
    reports them and goes on. Non-image members are skipped silently
    (``__MACOSX``, ``._*`` AppleDouble files and text files are normal in user ZIPs).
    Caps left as ``None`` take the module's ``MAX_*`` values at call time.
    """
    max_members = MAX_MEMBERS if max_members is None else max_members
    max_member_bytes = MAX_MEMBER_BYTES if max_member_bytes is None else max_member_bytes
    max_total_bytes = MAX_TOTAL_BYTES if max_total_bytes is None else max_total_bytes
    max_ratio = MAX_RATIO if max_ratio is None else max_ratio
    directory_bytes = declared_directory_bytes(data)
    directory_cap = max_members * DIRECTORY_BYTES_PER_MEMBER
    if directory_bytes > directory_cap:
        raise ImageLoadError(
            f"{archive_name}: its file list alone is {directory_bytes / 1e6:.1f} MB "
            f"(limit {directory_cap / 1e6:.1f} MB): too many files for one archive"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise ImageLoadError(f"{archive_name}: not a readable ZIP archive") from None
    files = [m for m in members if not m.is_dir()]
    if len(files) > max_members:
        raise ImageLoadError(f"{archive_name}: {len(files)} files, over the limit of {max_members} per archive")
    if members_overlap(members):
        raise ImageLoadError(f"{archive_name}: members overlap each other (a ZIP bomb construction); not opened")
    total = 0
    with archive:
        for member in files:
            name = display_name(archive_name, member.filename)
            suffix = PurePosixPath(member.filename).suffix.lower()
            if "__MACOSX" in member.filename or PurePosixPath(member.filename).name.startswith("._"):
                continue
            if suffix == ".zip":
                yield ArchiveMember(name, error=f"{name}: nested archives are not opened; upload it separately")
                continue
            if suffix not in IMAGE_SUFFIXES:
                continue
            if member.file_size > max_member_bytes:
                yield ArchiveMember(name, error=f"{name}: {member.file_size / 1e6:.0f} MB uncompressed, over the limit")
                continue
            if member.compress_size and member.file_size / member.compress_size > max_ratio:
                yield ArchiveMember(name, error=f"{name}: compression ratio too high (possible ZIP bomb); skipped")
                continue
            if total + member.file_size > max_total_bytes:
                yield ArchiveMember(name, error=f"{name}: archive exceeds {max_total_bytes / 1e9:.1f} GB uncompressed")
                return
            try:
                payload = _read_capped(archive, member, max_member_bytes)
            except ImageLoadError as error:
                yield ArchiveMember(name, error=f"{name}: {error}")
                continue
            total += len(payload)
            if total > max_total_bytes:
                yield ArchiveMember(name, error=f"{name}: archive exceeds {max_total_bytes / 1e9:.1f} GB uncompressed")
                return
            yield ArchiveMember(name, data=payload)


def declared_directory_bytes(data: bytes) -> int:
    """Size of the central directory as the archive's end records declare it (0 when there is none).

    Looked up the way ``zipfile`` does (the last end record within the final
    64 kB, and its ZIP64 record when a locator precedes it), so this is the
    amount ``zipfile`` would parse into one ``ZipInfo`` per entry.
    """
    start = data.rfind(b"PK\x05\x06", max(0, len(data) - _END_SEARCH_BYTES))
    if start < 0 or start + 22 > len(data):
        return 0
    size = struct.unpack_from("<I", data, start + 12)[0]
    locator = start - 20
    if locator >= 0 and data[locator : locator + 4] == b"PK\x06\x07":
        # ZIP64 record: where the locator points, or (as some zipfile versions read it) right before the locator
        for record in (struct.unpack_from("<Q", data, locator + 8)[0], locator - 56):
            if 0 <= record and record + 56 <= len(data) and data[record : record + 4] == b"PK\x06\x06":
                size = max(size, struct.unpack_from("<Q", data, record + 40)[0])
    return size


def members_overlap(members: list[zipfile.ZipInfo]) -> bool:
    """Whether two entries' stored data share bytes (offsets from the central directory).

    In an honest archive each member starts after the previous one's 30-byte
    local header and compressed data; the bound leaves out name and extra
    field (their lengths may differ from the central directory's), so it never
    flags an honest archive.
    """
    spans = sorted((m.header_offset, m.header_offset + _LOCAL_HEADER_MIN_BYTES + m.compress_size) for m in members)
    return any(start < previous_end for (_, previous_end), (start, _) in itertools.pairwise(spans))


def _read_capped(archive: zipfile.ZipFile, member: zipfile.ZipInfo, cap: int) -> bytes:
    """Read at most ``cap`` bytes of a member; more means the header lied (a bomb).

    Read in ``READ_CHUNK_BYTES`` pieces: ``zipfile`` inflates as much as one
    ``read(n)`` asks for before cutting it to the declared size, so a single
    large read would let a lying member fill memory up to ``cap``.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(member) as handle:
            while size <= cap:
                chunk = handle.read(min(READ_CHUNK_BYTES, cap + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as error:
        reason = "encrypted" if "encrypted" in str(error).lower() or "password" in str(error).lower() else "damaged"
        raise ImageLoadError(f"member is {reason} and cannot be read") from None
    if size > cap:
        raise ImageLoadError("uncompressed data larger than declared (possible ZIP bomb)")
    return b"".join(chunks)


def is_zip(data: bytes) -> bool:
    """ZIP magic number check (local header or empty archive)."""
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")
