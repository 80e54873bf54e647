"""What a loss is to the registry: a name, its parameters, the tasks it serves and its function.

A loss module defines a parameter model (a :class:`LossParams`) and a function
``fn(logits (B, C), targets (B, C), params, ctx) -> scalar`` and registers both with
:func:`register`. Label smoothing and class weights apply to every loss through the
:class:`LossContext`: ``ctx.targets`` smooths the 0/1 targets, ``ctx.positive``/``ctx.negative`` weigh
per-class terms. Nothing here imports torch, so config validation can read the registry cheaply;
loss functions import it when they run.

Shapes: ``B`` batch, ``C`` classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import torch

Task = Literal["multi_class", "multi_label"]


class LossParams(BaseModel):
    """Parameters of one loss, as its config section ``train.loss.<name>``; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


@dataclass
class LossContext:
    """The task, target smoothing and class weights a loss function applies.

    Attributes:
        multi_label: sigmoid per label (True) or softmax over classes (False).
        label_smoothing: eps of :meth:`targets`.
        positive: (C,) weight of each class's term (multi-class) or of each label's positive term.
        negative: (C,) multi-label only: weight of each label's negative term.
    """

    multi_label: bool
    label_smoothing: float = 0.0
    positive: torch.Tensor | None = None
    negative: torch.Tensor | None = None
    _constants: dict[str, torch.Tensor] = field(default_factory=dict)

    def targets(self, targets: torch.Tensor) -> torch.Tensor:
        """``y(1-eps) + eps/C`` for multi-class rows, ``y(1-eps) + eps/2`` for each multi-label entry."""
        targets = targets.float()
        eps = self.label_smoothing
        if eps == 0:
            return targets
        share = 0.5 if self.multi_label else 1.0 / targets.shape[-1]
        return targets * (1.0 - eps) + eps * share

    def weigh_positive(self, terms: torch.Tensor) -> torch.Tensor:
        """``terms (B, C)`` times the class (or positive-term) weights, when there are any."""
        return terms if self.positive is None else terms * self.positive.to(terms.device)

    def weigh_negative(self, terms: torch.Tensor) -> torch.Tensor:
        """``terms (B, C)`` times the negative-term weights (multi-label), when there are any."""
        return terms if self.negative is None else terms * self.negative.to(terms.device)

    def constant(self, name: str, values: list[float], like: torch.Tensor) -> torch.Tensor:
        """``values`` as a float tensor on ``like``'s device, made once per device."""
        key = f"{name}@{like.device}"
        if key not in self._constants:
            self._constants[key] = like.new_tensor(values, dtype=like.dtype)
        return self._constants[key]


LossFn = Callable[["torch.Tensor", "torch.Tensor", Any, LossContext], "torch.Tensor"]
Check = Callable[[Any, bool, int], None]


@dataclass(frozen=True)
class LossDefinition:
    """A registered loss.

    Attributes:
        name: the value of ``train.loss.name``.
        params: its parameter model (config section ``train.loss.<name>`` when it has fields).
        fn: the loss function.
        tasks: the tasks it serves.
        hint: said when asked for a task it does not serve (e.g. which loss to use instead).
        check: optional ``check(params, multi_label, num_classes)`` raising ValueError at build time.
        summary: one line for docs and ``--help``.
    """

    name: str
    params: type[LossParams]
    fn: LossFn
    tasks: tuple[Task, ...]
    hint: str = ""
    check: Check | None = None
    summary: str = ""


LOSSES: dict[str, LossDefinition] = {}


def register(
    name: str,
    params: type[LossParams] = LossParams,
    tasks: tuple[Task, ...] = ("multi_class", "multi_label"),
    hint: str = "",
    check: Check | None = None,
) -> Callable[[LossFn], LossFn]:
    """Decorator adding a loss function to :data:`LOSSES` under ``name`` (its docstring's first line is
    the summary)."""

    def add(fn: LossFn) -> LossFn:
        if name in LOSSES or name == "auto":
            raise ValueError(f"loss name {name!r} is taken")
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        LOSSES[name] = LossDefinition(name, params, fn, tasks, hint, check, summary)
        return fn

    return add
