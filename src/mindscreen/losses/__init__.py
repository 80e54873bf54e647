"""Training losses: a registry (:data:`LOSSES`) filled by the loss modules of this package.

Each loss lives in one module (``cross_entropy``, ``bce``, ``focal``, ``asymmetric``) with its
parameters beside it and registers itself (:func:`~mindscreen.losses.base.register`); a new loss is one
new module. The config section ``train.loss`` (:data:`LossConfig`) is derived from the registry: its
``name`` must be ``auto`` or a registered loss, and every loss with parameters gets a sub-section
(``train.loss.focal.gamma``). Label smoothing and class weights apply to every loss; with their
defaults (and focal gamma 0) each loss reduces exactly to cross-entropy or BCE.

Nothing imported here loads torch: config validation reads the registry cheaply. :func:`build_loss`
makes the torch module.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import ConfigDict, Field, create_model, field_validator, model_validator

from mindscreen.losses.base import LOSSES, LossContext, LossDefinition, LossParams, register
from mindscreen.losses.weights import SCHEMES, ClassWeights, Scheme, build_class_weights

if TYPE_CHECKING:
    from mindscreen.losses.module import Loss

_NOT_LOSSES = {"base", "weights", "module"}
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _NOT_LOSSES:
        importlib.import_module(f"{__name__}.{_module.name}")


class LossSettings(LossParams):
    """What applies to every loss; :data:`LossConfig` adds one section per loss with parameters."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    SHORTHAND: ClassVar[str] = "name"  # `train.loss=focal` sets train.loss.name

    name: str = Field(
        "auto",
        description="'auto': cross-entropy for multi-class, BCE for multi-label; or one of: "
        + ", ".join(LOSSES),
    )
    label_smoothing: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Target smoothing eps: y(1-eps)+eps/C for multi-class, y(1-eps)+eps/2 per label "
        "for multi-label; applies to every loss.",
    )
    class_weights: Scheme = Field(
        "none",
        description="Loss weights from the training label counts: 'inverse' 1/n, 'effective' "
        "(1-beta)/(1-beta^n) (Cui et al. 2019); scaled so a training example weighs 1 on average.",
    )
    class_weight_beta: float = Field(
        0.999, gt=0, lt=1, description="beta of the 'effective' class weights; closer to 1 is stronger."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        if value != "auto" and value not in LOSSES:
            raise ValueError(f"unknown loss {value!r}; choose one of: auto, {', '.join(LOSSES)}")
        return value


def _config_model() -> type[LossSettings]:
    sections: dict[str, Any] = {
        name: (definition.params, Field(default_factory=definition.params, description=definition.summary))
        for name, definition in LOSSES.items()
        if definition.params.model_fields
    }
    return create_model("LossConfig", __base__=LossSettings, **sections)


#: The ``train.loss`` config section: :class:`LossSettings` plus one parameter section per loss.
LossConfig: type[LossSettings] = _config_model()


def resolve_name(name: str, multi_label: bool) -> str:
    """The loss ``name`` stands for: ``auto`` is BCE for multi-label and cross-entropy otherwise."""
    if name == "auto":
        return "bce" if multi_label else "cross_entropy"
    return name


def build_loss(
    config: LossSettings | str | None = None,
    multi_label: bool = False,
    train_labels: np.ndarray | None = None,
) -> Loss:
    """The configured loss as a torch module ``(logits (B, C), targets (B, C)) -> scalar``.

    Args:
        config: the ``train.loss`` section, or just a loss name; None: ``auto`` with defaults.
        multi_label: whether labels are independent yes/no decisions.
        train_labels: (N, C) training labels: needed for class weights and per-class checks.

    Raises:
        ValueError: a loss that does not serve the task, or parameters that do not fit the data.
    """
    from mindscreen.losses.module import Loss

    config = LossConfig.model_validate(config if config is not None else {})
    name = resolve_name(config.name, multi_label)
    definition = LOSSES[name]
    task = "multi_label" if multi_label else "multi_class"
    if task not in definition.tasks:
        kind = "multi-label" if multi_label else "single-label (multi-class)"
        raise ValueError(f"loss {name!r} does not serve {kind} data; {definition.hint}")
    params = getattr(config, name, None) or definition.params()
    if definition.check is not None and train_labels is not None:
        definition.check(params, multi_label, int(train_labels.shape[1]))
    weights = None
    if config.class_weights != "none":
        if train_labels is None:
            raise ValueError(f"train.loss.class_weights={config.class_weights} needs the training labels")
        weights = build_class_weights(
            train_labels, config.class_weights, config.class_weight_beta, multi_label
        )
    return Loss(definition, params, multi_label, config.label_smoothing, weights)


__all__ = [
    "LOSSES",
    "SCHEMES",
    "ClassWeights",
    "LossConfig",
    "LossContext",
    "LossDefinition",
    "LossParams",
    "LossSettings",
    "build_class_weights",
    "build_loss",
    "register",
    "resolve_name",
]
