"""The audit log: one JSON line per classified text, holding a keyed hash of the text, never the text.

Each line: ``time`` (UTC ISO 8601), ``request_id``, ``text_id`` (HMAC-SHA256 of the text under the
configured salt, or plain SHA-256 without one), ``model_version``, ``stage``, ``labels``, ``risk`` and
``needs_review``. The same text gives the same id under the same salt, so a case can be traced without
storing what the person wrote. Without a salt, anyone holding the log can test guesses of short texts:
set one in production.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import datetime, timezone
from pathlib import Path

from mindscreen.pipeline import Result


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._salt = salt.encode("utf-8") if salt else None
        self._lock = threading.Lock()

    def record(self, request_id: str, version: str, texts: list[str], results: list[Result]) -> None:
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
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
