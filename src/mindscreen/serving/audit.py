"""The audit log: one JSON line per classified text, holding a keyed hash of the text, never the text.

Each line: ``time`` (UTC ISO 8601), ``request_id``, ``text_id`` (HMAC-SHA256 of the text under the
configured salt, or plain SHA-256 without one), ``model_version``, ``stage``, ``labels``, ``risk`` and
``needs_review``. The same text gives the same id under the same salt, so a case can be traced without
storing what the person wrote. Without a salt, anyone holding the log can test guesses of short texts:
set one in production.

The service checks at start-up that the log can be appended to and that its file system has room
(:meth:`AuditLog.check`); a write that fails later raises ``OSError`` after undoing any half-written
line, and the service answers 503 instead of returning results it could not record.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path

from mindscreen.pipeline import Result

MIN_FREE_BYTES = 10_000_000  # free space the audit log's file system needs at start-up


def text_id(text: str, salt: bytes | None) -> str:
    """Hex id of a text: HMAC-SHA256 under ``salt``, else SHA-256."""
    data = text.encode("utf-8")
    if salt:
        return hmac.new(salt, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


class AuditLog:
    """Appends audit lines to a JSONL file; safe to call from several worker threads."""

    def __init__(self, path: str | Path, salt: str | None = None) -> None:
        self.path = Path(path)
        self._salt = salt.encode("utf-8") if salt else None
        self._lock = threading.Lock()

    def check(self) -> None:
        """Create the log (and its folder) if needed; OSError naming it unless it can be appended to.

        Raises:
            OSError: the file cannot be opened for appending, or its file system has less than
                :data:`MIN_FREE_BYTES` free.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8"):
                pass
            free = shutil.disk_usage(self.path.parent).free
        except OSError as err:
            raise OSError(
                f"cannot write the audit log {self.path}: {err.strerror or type(err).__name__}; "
                "give --audit-log a file this user can append to"
            ) from None
        if free < MIN_FREE_BYTES:
            raise OSError(
                f"the audit log {self.path} is on a file system with {free} bytes free; at least "
                f"{MIN_FREE_BYTES} are needed. Free some space or put the log elsewhere"
            )

    def record(self, request_id: str, version: str, texts: list[str], results: list[Result]) -> None:
        """Append one line per text in one write.

        Raises:
            OSError: the write failed (e.g. the disk is full); no half line is left behind.
        """
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        lines = [
            json.dumps(
                {
                    "time": now,
                    "request_id": request_id,
                    "text_id": text_id(text, self._salt),
                    "model_version": version,
                    "stage": result.stage,
                    "labels": result.labels,
                    "risk": result.risk,
                    "needs_review": result.needs_review,
                }
            )
            for text, result in zip(texts, results, strict=True)
        ]
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                end = os.lseek(fd, 0, os.SEEK_END)
                try:
                    written = os.write(fd, data)
                    if written != len(data):
                        raise OSError(28, f"short write: {written} of {len(data)} bytes")
                except OSError:
                    with contextlib.suppress(OSError):  # leave no half line for the next record
                        os.ftruncate(fd, end)
                    raise
            finally:
                os.close(fd)
