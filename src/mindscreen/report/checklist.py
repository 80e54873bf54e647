"""A pass/fail checklist of a finished run against success criteria.

The criteria read ``metrics.json`` (F1 scores of the chosen split, with the run's thresholds) and
``log.jsonl`` (validation losses, train-vs-validation gap):

- **weighted F1** of the split is above ``min_weighted_f1``;
- **every class F1** of the split is above ``min_class_f1``;
- **validation loss stabilised**: the highest validation loss of the last ``val_loss_window``
  evaluations is at most ``max(val_loss_tolerance x best, val_loss_min_delta)`` above the lowest
  validation loss of the whole run (``best``). One number is printed and compared: that excess, in
  loss units. A curve still falling fails (its window starts high above where it ends), so does a
  climb away from the best (over-fitting), even in small steps. The absolute floor
  ``val_loss_min_delta`` (as Keras' EarlyStopping ``min_delta``) keeps the criterion meaningful at
  low loss: at a loss of 0.056 a 5% band is 0.003, less than the evaluation noise of a few hundred
  dev texts, so a flat curve would fail on noise alone;
- **train/val gap** of the primary metric (macro-F1 by default) at the best checkpoint, train
  sample minus dev, is below ``max_train_val_gap``.

A criterion set to null is skipped. Criteria come from a YAML file (keys as in :class:`Criteria`)
or are built in code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Criteria(BaseModel):
    """Success criteria of a run; defaults are the project's targets."""

    model_config = ConfigDict(extra="forbid")

    split: Literal["test", "dev"] = Field("test", description="Whose F1 scores are checked (dev if no test).")
    min_weighted_f1: float | None = Field(0.85, description="Weighted F1 must be above this.")
    min_class_f1: float | None = Field(0.70, description="Every class's F1 must be above this.")
    max_train_val_gap: float | None = Field(
        0.05, description="Train-minus-dev primary metric at the best checkpoint must be below this."
    )
    val_loss_window: int = Field(3, ge=2, description="Last evaluations looked at for stabilisation.")
    val_loss_tolerance: float | None = Field(
        0.05, gt=0, description="Allowed excess of the window's highest val loss over the best, relative."
    )
    val_loss_min_delta: float = Field(
        0.01, ge=0, description="Allowed excess in loss units at least (changes below it are noise)."
    )


@dataclass(frozen=True)
class CheckResult:
    """One criterion: whether it passed, the measured value, the target and an explanation."""

    name: str
    passed: bool
    value: float | None
    target: str
    detail: str = ""


@dataclass
class Checklist:
    """Every criterion checked for one run."""

    run: str
    items: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(item.passed for item in self.items)

    def format(self) -> str:
        """Text lines like ``[PASS] weighted F1 0.871 (> 0.85)``, then the overall verdict."""
        lines = []
        for item in self.items:
            value = "-" if item.value is None else f"{item.value:.3f}"
            detail = f"  {item.detail}" if item.detail else ""
            lines.append(f"[{'PASS' if item.passed else 'FAIL'}] {item.name} {value} ({item.target}){detail}")
        verdict = "all criteria met" if self.passed else "some criteria not met"
        lines.append(f"{self.run}: {verdict}")
        return "\n".join(lines)


def load_criteria(path: str | Path | None = None, **changes: Any) -> Criteria:
    """Criteria from a YAML file (None: the defaults), with keyword ``changes`` applied on top."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ValueError(f"cannot read criteria {path}: {err}") from err
        if not isinstance(loaded, dict):
            raise ValueError(f"criteria {path} must be a mapping such as 'min_weighted_f1: 0.8'")
        raw.update(loaded)
    raw.update({key: value for key, value in changes.items() if value is not None})
    try:
        return Criteria.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ValueError(
            f"invalid criteria: {problems}. Valid keys: {', '.join(Criteria.model_fields)}"
        ) from None


def evaluate_checklist(
    metrics: Mapping[str, Any], log: Sequence[Mapping[str, Any]], criteria: Criteria, run: str = "run"
) -> Checklist:
    """Check ``metrics`` (a run's metrics.json) and ``log`` (its log.jsonl records) against ``criteria``."""
    split = criteria.split if criteria.split in metrics else "dev"
    scores = metrics[split]
    checklist = Checklist(run)
    if criteria.min_weighted_f1 is not None:
        value = scores.get("weighted_f1")
        checklist.items.append(
            CheckResult(
                f"weighted F1 ({split})",
                value is not None and value > criteria.min_weighted_f1,
                value,
                f"> {criteria.min_weighted_f1:g}",
            )
        )
    if criteria.min_class_f1 is not None:
        f1 = {name: row["f1"] or 0.0 for name, row in scores["per_class"].items()}
        failing = sorted(name for name, value in f1.items() if not value > criteria.min_class_f1)
        detail = f"below: {', '.join(failing)}" if failing else ""
        checklist.items.append(
            CheckResult(
                f"every class F1 ({split})",
                not failing,
                min(f1.values()),
                f"each > {criteria.min_class_f1:g}",
                detail,
            )
        )
    if criteria.val_loss_tolerance is not None:
        checklist.items.append(
            _val_loss_check([r["val_loss"] for r in log if r.get("val_loss") is not None], criteria)
        )
    if criteria.max_train_val_gap is not None:
        checklist.items.append(_gap_check(log, criteria.max_train_val_gap))
    return checklist


def _val_loss_check(losses: list[float], criteria: Criteria) -> CheckResult:
    window, tolerance = criteria.val_loss_window, criteria.val_loss_tolerance or 0.0
    name = "validation loss stabilised"
    if len(losses) < window:
        target = f"last {window} evals near the best"
        return CheckResult(name, False, None, target, f"only {len(losses)} evaluations logged, need {window}")
    best, highest = min(losses), max(losses[-window:])
    allowed = max(tolerance * best, criteria.val_loss_min_delta)
    excess = highest - best
    target = f"last {window} evals at most {allowed:.4f} above best {best:.4f}"
    detail = "" if excess <= allowed else f"highest of them {highest:.4f}"
    return CheckResult(name, excess <= allowed, excess, target, detail)


def _gap_check(log: Sequence[Mapping[str, Any]], limit: float) -> CheckResult:
    name, target = "train/val gap at best checkpoint", f"< {limit:g}"
    best = [record for record in log if record.get("best")]
    if not best or best[-1].get("train_val_gap") is None:
        return CheckResult(name, False, None, target, "no best evaluation in log.jsonl")
    gap = float(best[-1]["train_val_gap"])
    return CheckResult(name, gap < limit, gap, target, f"step {best[-1]['step']}")
