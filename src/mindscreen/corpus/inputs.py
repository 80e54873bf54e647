"""The files of a corpus job: a file, a folder of files or a glob, each with the identity a restart checks.

A job's input is listed in sorted path order, so every run of the same command sees the same files in
the same order. A file's identity is its absolute path, size and modification time: a restarted job
refuses to continue when any of them changed, since the finished parts would then describe other rows.
"""

from __future__ import annotations

import glob
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mindscreen.data import DataError
from mindscreen.data.readers import FORMATS, SUPPORTED

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class InputFile:
    """One input file and what identifies its content.

    Attributes:
        path: absolute path.
        format: ``csv``, ``tsv``, ``jsonl`` or ``parquet`` (from the extension).
        size: bytes.
        mtime_ns: modification time in nanoseconds.
    """

    path: str
    format: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> InputFile:
        stat = path.stat()
        return cls(str(path.resolve()), FORMATS[path.suffix.lower()], stat.st_size, stat.st_mtime_ns)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputFile:
        return cls(str(data["path"]), str(data["format"]), int(data["size"]), int(data["mtime_ns"]))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def changed(self) -> bool:
        """Whether the file on disk is no longer the one described (moved, resized or rewritten)."""
        try:
            return InputFile.of(Path(self.path)) != self
        except OSError:
            return True


def find_inputs(pattern: str | Path, exclude: str | Path | None = None) -> list[InputFile]:
    """The table files a job reads, in sorted path order.

    Args:
        pattern: one file; a folder (its files with a supported extension, not its subfolders); or a
            glob such as ``posts/*.jsonl`` or ``posts/**/*.parquet``.
        exclude: a folder whose files are never inputs (the job's output folder).

    Raises:
        DataError: nothing matched, or a named file has an unsupported extension.
    """
    text = str(pattern)
    path = Path(text)
    if path.is_file():
        if path.suffix.lower() not in FORMATS:
            raise DataError(f"{path}: unknown extension {path.suffix or '(none)'!r}; supported: {SUPPORTED}")
        candidates = [path]
    elif path.is_dir():
        candidates = [child for child in path.iterdir() if child.is_file()]
    elif _GLOB_CHARS & set(text):
        candidates = [Path(name) for name in glob.glob(text, recursive=True) if os.path.isfile(name)]
    else:
        raise DataError(f"input not found: {text} (expected a file, a folder or a glob like 'posts/*.csv')")
    skip = Path(exclude).resolve() if exclude is not None else None
    files = sorted(
        (p.resolve() for p in candidates if _is_table(p) and not _inside(p.resolve(), skip)), key=str
    )
    if not files:
        raise DataError(
            f"no input files in {text}: expected files ending in {SUPPORTED} (hidden files are skipped)"
        )
    return [InputFile.of(file) for file in files]


def _is_table(path: Path) -> bool:
    return path.suffix.lower() in FORMATS and not path.name.startswith((".", "_"))


def _inside(path: Path, folder: Path | None) -> bool:
    return folder is not None and (path == folder or folder in path.parents)
