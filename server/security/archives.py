"""Unpacking an uploaded archive (zip, tar, tar.gz/.bz2/.xz) to disk, with running limits.

Rule 1: nothing is trusted from the archive's own headers. Each member is streamed to disk in
chunks and the running total of bytes actually written is checked after every chunk, so a
612-byte tar.bz2 that inflates to gigabytes costs at most the limit (and the memory of one
chunk). Members are counted as they are read, not after.
Rule 2: paths stay inside the target: no absolute paths, no ``..``, no links or devices, at
most ``max_depth`` folders deep and ``max_path`` characters.
Rule 3: every way an archive can be broken (a corrupt zip, a truncated stream, an encrypted
member, an unsupported compression) is an :class:`ArchiveError` with the reason: a 400 for
the caller, never a 500.

It is blocking code: call it in a thread (``asyncio.to_thread``), off the event loop.
"""

from __future__ import annotations

import lzma
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

CHUNK = 64 * 1024


class ArchiveError(Exception):
    """The archive is refused; the message says why."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 2000
    max_bytes: int = 50 << 20
    max_depth: int = 32
    max_path: int = 1024


class _Budget:
    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.members = 0
        self.bytes = 0

    def member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ArchiveError(f"the archive has more than {self.limits.max_members} files")

    def add(self, size: int) -> None:
        self.bytes += size
        if self.bytes > self.limits.max_bytes:
            raise ArchiveError(
                f"the archive unpacks to more than {self.limits.max_bytes >> 20} MiB"
            )


def _destination(target: Path, name: str, limits: ArchiveLimits) -> Path:
    if len(name) > limits.max_path:
        raise ArchiveError(f"{name[:60]}…: a path is longer than {limits.max_path} characters")
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise ArchiveError(f"{name[:120]}: paths must stay inside the course folder")
    if len(path.parts) > limits.max_depth:
        raise ArchiveError(f"{name[:60]}…: folders deeper than {limits.max_depth} levels")
    return target.joinpath(*path.parts)


def _copy(source: IO[bytes], destination: Path, budget: _Budget) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("wb") as out:
        while chunk := source.read(CHUNK):
            budget.add(len(chunk))
            out.write(chunk)


def extract(source: IO[bytes], target: Path, limits: ArchiveLimits | None = None) -> None:
    """Unpack ``source`` (a zip or a tar, any compression) into ``target`` or raise ArchiveError."""
    limits = limits or ArchiveLimits()
    budget = _Budget(limits)
    try:
        if zipfile.is_zipfile(source):
            source.seek(0)
            _extract_zip(source, target, budget)
        else:
            source.seek(0)
            _extract_tar(source, target, budget)
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError) as exc:
        raise ArchiveError(f"the archive is broken: {exc}") from None
    except (EOFError, zlib.error, lzma.LZMAError) as exc:
        raise ArchiveError(f"the archive is truncated or corrupt: {exc}") from None
    except NotImplementedError as exc:
        raise ArchiveError(f"the archive uses a compression we cannot read: {exc}") from None
    except RuntimeError as exc:  # an encrypted zip member
        raise ArchiveError(f"the archive cannot be read: {exc}") from None
    except OSError as exc:  # bz2 and gzip report bad data as OSError; so does a full disk
        raise ArchiveError(f"the archive cannot be unpacked: {exc.strerror or exc}") from None


def _extract_zip(source: IO[bytes], target: Path, budget: _Budget) -> None:
    with zipfile.ZipFile(source) as archive:
        infos = archive.infolist()
        if len(infos) > budget.limits.max_members:
            raise ArchiveError(f"the archive has more than {budget.limits.max_members} files")
        for info in infos:
            budget.member()
            destination = _destination(target, info.filename, budget.limits)
            if info.is_dir():
                continue
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise ArchiveError(f"{info.filename}: links and devices are not allowed")
            with archive.open(info) as member:
                _copy(member, destination, budget)


def _extract_tar(source: IO[bytes], target: Path, budget: _Budget) -> None:
    with tarfile.open(fileobj=source, mode="r:*") as archive:
        for info in archive:  # lazily: headers are read as the stream goes
            budget.member()
            destination = _destination(target, info.name, budget.limits)
            if info.isdir():
                continue
            if not info.isfile():
                raise ArchiveError(f"{info.name[:120]}: links and devices are not allowed")
            member = archive.extractfile(info)
            assert member is not None
            _copy(member, destination, budget)


__all__ = ["ArchiveError", "ArchiveLimits", "extract"]
