""":func:`audit_data`: every check on one data set, written as ``audit.json`` and ``audit.html``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from mindscreen.audit.duplicates import find_duplicates
from mindscreen.audit.html import HTML_FILE, write_html
from mindscreen.audit.label_issues import FOLDS, LabelIssues, find_label_issues
from mindscreen.audit.lengths import length_profile
from mindscreen.audit.profile import class_balance, label_problems, shift_between_splits, text_problems
from mindscreen.audit.report import JSON_FILE, AuditReport
from mindscreen.audit.table import AuditData, read_audit_data
from mindscreen.config import ConfigError, DataConfig, RunConfig, apply_override, validate_model

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class AuditSettings:
    """What the audit measures, beyond how the data is read.

    Attributes:
        max_lengths: token counts at which the share of cut texts is reported (``model.max_length``).
        encoder: whose tokenizer counts tokens: ``minilm``, a local folder or a cached hub id.
        near_threshold: Jaccard similarity of character 5-grams from which texts are near-duplicates.
        folds: cross-validation folds for the out-of-fold probabilities of the label-error check.
        seed: seed of the folds and of the MinHash functions.
        label_issues: run the label-error check (needs cleanlab, the ``audit`` extra).
    """

    max_lengths: tuple[int, ...] = (128,)
    encoder: str = "minilm"
    near_threshold: float = 0.8
    folds: int = FOLDS
    seed: int = 0
    label_issues: bool = True

    def __post_init__(self) -> None:
        if not self.max_lengths or min(self.max_lengths) < 1:
            raise ValueError(f"max lengths must be positive token counts, got {list(self.max_lengths)}")
        if not 0 < self.near_threshold <= 1:
            raise ValueError(f"the near-duplicate threshold must be in (0, 1], got {self.near_threshold}")
        if self.folds < 2:
            raise ValueError(f"label-error folds must be at least 2, got {self.folds}")


def audit_data(
    data: str | Path,
    overrides: Sequence[str] = (),
    *,
    columns: Mapping[str, Any] | None = None,
    settings: AuditSettings | None = None,
    output_dir: str | Path | None = None,
) -> AuditReport:
    """Audit a data set before training; write ``audit.json`` and ``audit.html`` to ``output_dir``.

    Args:
        data: a folder with ``train``/``dev``/``test`` files, ``demo``, or a single file.
        overrides: ``data.*`` settings as ``key=value`` (e.g. ``data.label_delimiter="|"``).
        columns: :class:`~mindscreen.config.DataConfig` fields set directly (``text_column``,
            ``label_column``, ``label_delimiter``, ``label_columns``); they win over ``overrides``.
        settings: what to measure; defaults: :class:`AuditSettings`.
        output_dir: where to write the two files; None writes nothing.

    Returns:
        The findings. Findings are not errors: leakage or label errors do not raise.

    Raises:
        DataError: a file that cannot be read or a missing column (file, column and fix named).
        ConfigError: an override that is not a valid ``data.*`` setting.
        MissingExtraError: cleanlab is missing and ``settings.label_issues`` is set.
    """
    settings = settings or AuditSettings()
    seconds: dict[str, float] = {}
    rows = _timed("read", seconds, lambda: read_audit_data(data, data_config(overrides, columns)))
    duplicates = _timed(
        "duplicates", seconds, lambda: find_duplicates(rows, settings.near_threshold, settings.seed)
    )
    issues = (
        _timed("label_issues", seconds, lambda: find_label_issues(rows, settings.folds, settings.seed))
        if settings.label_issues
        else LabelIssues(skipped="switched off")
    )
    lengths = _timed("lengths", seconds, lambda: length_profile(rows, settings.encoder, settings.max_lengths))
    balance = class_balance(rows)
    report = AuditReport(
        {
            "data": str(data),
            "splits": {s.name: {"source": s.source, "rows": len(s.texts)} for s in rows.splits},
            "task": _task(rows),
            "labels": rows.label_names,
            "settings": asdict(settings),
            "text_problems": text_problems(rows),
            "label_problems": label_problems(rows),
            "class_balance": balance,
            "label_shift": shift_between_splits(balance, rows.label_names),
            "lengths": lengths,
            "duplicates": duplicates.summary(rows),
            "label_issues": issues.summary(rows),
            "seconds": seconds,
        }
    )
    if output_dir is not None:
        _write(report, rows, Path(output_dir))
    return report


def data_config(overrides: Sequence[str] = (), columns: Mapping[str, Any] | None = None) -> DataConfig:
    """A :class:`DataConfig` from ``data.*`` overrides plus fields set directly (which win)."""
    raw: dict[str, Any] = {}
    for item in overrides:
        if not item.partition("=")[0].strip().startswith("data."):
            raise ConfigError(
                f"override {item!r}: mindscreen audit takes data.* settings only, e.g. data.text_column=body"
            )
        apply_override(raw, item, RunConfig)
    fields = {
        **raw.get("data", {}),
        **{key: value for key, value in (columns or {}).items() if value is not None},
    }
    return validate_model(DataConfig, fields, "data settings", "data config")


def default_output_dir(data: str | Path) -> Path:
    """``<DATA>-audit`` beside the data (the HTML holds texts: it stays where the data is); for
    ``demo``, ``demo-audit`` in the working directory."""
    path = Path(data)
    if path.is_file():
        return path.with_name(f"{path.stem}-audit")
    return Path(f"{str(data).rstrip('/')}-audit")


def _task(rows: AuditData) -> str:
    if not rows.labelled:
        return "unlabelled"
    return "multi-label" if rows.multi_label else "multi-class"


def _timed(step: str, seconds: dict[str, float], run: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = run()
    seconds[step] = round(time.perf_counter() - start, 2)
    logger.info("audit: %s took %.1f s", step.replace("_", " "), seconds[step])
    return result


def _write(report: AuditReport, rows: AuditData, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    report.write_json(folder / JSON_FILE)
    write_html(report, rows, folder / HTML_FILE)
