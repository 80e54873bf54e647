"""Training losses, chosen by name from ``LOSSES``, and class weights from training label counts.

Shapes: ``B`` batch, ``C`` classes. Every loss takes ``logits (B, C)`` and ``targets (B, C)`` of 0/1
floats (one-hot rows for multi-class) and returns a scalar: the mean over the batch for softmax
losses, the mean over batch and classes for sigmoid losses (as BCE). Every loss accepts label
smoothing and class weights; with their defaults (and focal gamma 0) each reduces exactly to
cross-entropy or BCE.

Class weights (``train.class_weights``) are multi-class per-class weights of the true class's term;
for multi-label, a weight for the positive and one for the negative term of each label, since every
label is its own yes/no problem. Weights are proportional to ``1 / n`` ('inverse') or to the inverse
effective number of samples ``(1 - beta) / (1 - beta^n)`` ('effective', Cui et al. 2019), then
scaled so the weight of a training example (or label entry) is 1 on average: the learning rate
keeps its meaning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mindscreen.config import TrainConfig

_TINY = 1e-12  # keeps pow() gradients finite where a probability reaches exactly 0 or 1


@dataclass(frozen=True)
class ClassWeights:
    """Per-class loss weights.

    Attributes:
        positive: (C,) weight of each class's term (multi-class), or of each label's positive term.
        negative: (C,) multi-label only: weight of each label's negative term; None for multi-class.
    """

    positive: np.ndarray
    negative: np.ndarray | None = None


def build_class_weights(
    train_labels: np.ndarray, scheme: str, beta: float = 0.999, multi_label: bool = False
) -> ClassWeights | None:
    """Class weights from the training labels ``(N, C)``; None for ``scheme='none'``."""
    if scheme == "none":
        return None
    labels = np.asarray(train_labels, dtype=np.float64) >= 0.5  # (N, C)
    total = labels.shape[0]

    def inverse_size(counts: np.ndarray) -> np.ndarray:
        counts = np.maximum(counts, 1.0)  # a class absent from train would divide by zero
        if scheme == "inverse":
            return 1.0 / counts
        if scheme == "effective":
            return (1.0 - beta) / (1.0 - np.power(beta, counts))
        raise ValueError(f"unknown class weights {scheme!r}; choose one of: none, inverse, effective")

    positives = labels.sum(axis=0)  # (C,)
    if not multi_label:
        weights = inverse_size(positives)
        return ClassWeights(weights * total / float(np.sum(weights * positives)))
    negatives = total - positives
    pos, neg = inverse_size(positives), inverse_size(negatives)
    scale = total / (pos * positives + neg * negatives)  # (C,): each label's entries average 1
    return ClassWeights(pos * scale, neg * scale)


def smooth_targets(targets: torch.Tensor, eps: float, multi_label: bool) -> torch.Tensor:
    """``y(1-eps) + eps/C`` for multi-class rows, ``y(1-eps) + eps/2`` for each multi-label entry."""
    if eps == 0:
        return targets
    share = 0.5 if multi_label else 1.0 / targets.shape[-1]
    return targets * (1.0 - eps) + eps * share


class _WeightedLoss(nn.Module):
    """Holds optional (C,) weights as plain tensors, moved to the logits' device on use."""

    def __init__(self, weights: ClassWeights | None, label_smoothing: float, multi_label: bool) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing
        self.multi_label = multi_label
        self.positive = _tensor(weights.positive) if weights is not None else None
        negative = weights.negative if weights is not None else None
        self.negative = _tensor(negative) if negative is not None else None

    def _targets(self, targets: torch.Tensor) -> torch.Tensor:
        return smooth_targets(targets.float(), self.label_smoothing, self.multi_label)

    def _scale(self, terms: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
        return terms if weight is None else terms * weight.to(terms.device)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy for one-hot targets, with optional smoothing and class weights."""

    def __init__(self, weights: ClassWeights | None = None, label_smoothing: float = 0.0) -> None:
        super().__init__(weights, label_smoothing, multi_label=False)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        if self.positive is None and self.label_smoothing == 0:
            return F.cross_entropy(logits, targets.argmax(dim=-1))
        terms = self._targets(targets) * F.log_softmax(logits, dim=-1)  # (B, C)
        return -self._scale(terms, self.positive).sum(dim=-1).mean()


class BCELoss(_WeightedLoss):
    """Per-class sigmoid binary cross-entropy, averaged over classes and batch."""

    def __init__(self, weights: ClassWeights | None = None, label_smoothing: float = 0.0) -> None:
        super().__init__(weights, label_smoothing, multi_label=True)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits, soft = logits.float(), self._targets(targets)
        if self.positive is None:
            return F.binary_cross_entropy_with_logits(logits, soft)
        pos = self._scale(soft * F.logsigmoid(logits), self.positive)  # (B, C)
        neg = self._scale((1 - soft) * F.logsigmoid(-logits), self.negative)  # (B, C)
        return -(pos + neg).mean()


class FocalLoss(_WeightedLoss):
    """Focal loss (Lin et al. 2017): ``-alpha (1 - p_t)^gamma log p_t``, softmax or sigmoid.

    Multi-class: ``-sum_c alpha_c y_c (1 - p_c)^gamma log p_c`` over softmax probabilities.
    Multi-label: per label ``-[a y (1-p)^gamma log p + (1-a)(1-y) p^gamma log(1-p)]`` over sigmoids.
    ``gamma = 0`` with ``alpha = None`` is exactly cross-entropy (multi-class) or BCE (multi-label).

    Args:
        gamma: Focusing parameter; larger values down-weight well-classified examples more.
        alpha: None, one weight per class, or (multi-label only) one number for every label.
        multi_label: Sigmoid per label (True) or softmax over classes (False).
        weights: Optional class weights, multiplied in.
        label_smoothing: Target smoothing, see :func:`smooth_targets`.
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: float | list[float] | None = None,
        multi_label: bool = False,
        weights: ClassWeights | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weights, label_smoothing, multi_label)
        if alpha is not None and not multi_label and not isinstance(alpha, list):
            raise ValueError(
                f"focal alpha {alpha} is one number, but multi-class focal loss needs one alpha per class; "
                "set train.focal_alpha to a list in label order, or null"
            )
        self.gamma = gamma
        self.alpha = _tensor(alpha) if isinstance(alpha, list) else alpha

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits, soft = logits.float(), self._targets(targets)
        alpha = self.alpha.to(logits.device) if isinstance(self.alpha, torch.Tensor) else self.alpha
        if not self.multi_label:
            log_p = F.log_softmax(logits, dim=-1)  # (B, C)
            modulation = (1 - log_p.exp()).clamp(min=_TINY).pow(self.gamma)  # (B, C)
            terms = soft * modulation * log_p
            terms = terms if alpha is None else terms * alpha
            return -self._scale(terms, self.positive).sum(dim=-1).mean()
        prob = torch.sigmoid(logits)  # (B, C)
        pos = soft * (1 - prob).clamp(min=_TINY).pow(self.gamma) * F.logsigmoid(logits)
        neg = (1 - soft) * prob.clamp(min=_TINY).pow(self.gamma) * F.logsigmoid(-logits)
        if alpha is not None:
            pos, neg = pos * alpha, neg * (1 - alpha)
        return -(self._scale(pos, self.positive) + self._scale(neg, self.negative)).mean()


class AsymmetricLoss(_WeightedLoss):
    """Asymmetric loss for multi-label (Ridnik et al. 2021).

    Per label ``-[y (1-p)^gamma_pos log p + (1-y) p_m^gamma_neg log(1 - p_m)]`` with the shifted
    probability ``p_m = max(p - clip, 0)``: easy negatives (``p < clip``) are discarded and the rest
    down-weighted. Averaged over batch and labels (the paper sums); ``gamma_pos = gamma_neg = clip = 0``
    is exactly BCE.
    """

    def __init__(
        self,
        gamma_pos: float = 0.0,
        gamma_neg: float = 4.0,
        clip: float = 0.05,
        weights: ClassWeights | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weights, label_smoothing, multi_label=True)
        self.gamma_pos, self.gamma_neg, self.clip = gamma_pos, gamma_neg, clip

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits, soft = logits.float(), self._targets(targets)
        prob, one_minus = torch.sigmoid(logits), torch.sigmoid(-logits)  # (B, C) each
        if self.clip > 0:
            shifted = (prob - self.clip).clamp(min=_TINY)
            log_neg = torch.log((one_minus + self.clip).clamp(max=1.0))
        else:
            shifted, log_neg = prob.clamp(min=_TINY), F.logsigmoid(-logits)
        pos = soft * one_minus.clamp(min=_TINY).pow(self.gamma_pos) * F.logsigmoid(logits)
        neg = (1 - soft) * shifted.pow(self.gamma_neg) * log_neg
        return -(self._scale(pos, self.positive) + self._scale(neg, self.negative)).mean()


@dataclass(frozen=True)
class LossInputs:
    """What a loss factory gets: the task, the training settings and the class weights."""

    multi_label: bool
    config: TrainConfig
    weights: ClassWeights | None


def _cross_entropy(inputs: LossInputs) -> nn.Module:
    if inputs.multi_label:
        raise ValueError("loss 'cross_entropy' needs single-label data; use train.loss=bce for multi-label")
    return CrossEntropyLoss(inputs.weights, inputs.config.label_smoothing)


def _bce(inputs: LossInputs) -> nn.Module:
    return BCELoss(inputs.weights, inputs.config.label_smoothing)


def _focal(inputs: LossInputs) -> nn.Module:
    cfg = inputs.config
    return FocalLoss(
        cfg.focal_gamma, cfg.focal_alpha, inputs.multi_label, inputs.weights, cfg.label_smoothing
    )


def _asymmetric(inputs: LossInputs) -> nn.Module:
    if not inputs.multi_label:
        raise ValueError(
            "loss 'asymmetric' is for multi-label data; for multi-class use train.loss=focal "
            "(with train.focal_gamma) instead"
        )
    cfg = inputs.config
    return AsymmetricLoss(
        cfg.asl_gamma_pos, cfg.asl_gamma_neg, cfg.asl_clip, inputs.weights, cfg.label_smoothing
    )


LOSSES: dict[str, Callable[[LossInputs], nn.Module]] = {
    "cross_entropy": _cross_entropy,
    "bce": _bce,
    "focal": _focal,
    "asymmetric": _asymmetric,
}


def build_loss(
    name: str,
    multi_label: bool,
    config: TrainConfig | None = None,
    train_labels: np.ndarray | None = None,
) -> nn.Module:
    """The loss ``name``; ``'auto'`` is BCE for multi-label and cross-entropy otherwise.

    Args:
        name: ``'auto'`` or a key of :data:`LOSSES`.
        multi_label: Whether labels are independent yes/no decisions.
        config: Loss settings (smoothing, class weights, focal/ASL parameters); None: defaults.
        train_labels: (N, C) training labels; needed when ``config.class_weights`` is not 'none'.
    """
    config = config or TrainConfig()
    if name == "auto":
        name = "bce" if multi_label else "cross_entropy"
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of: auto, {', '.join(LOSSES)}")
    weights = None
    if config.class_weights != "none":
        if train_labels is None:
            raise ValueError(f"train.class_weights={config.class_weights} needs the training labels")
        weights = build_class_weights(
            train_labels, config.class_weights, config.class_weight_beta, multi_label
        )
    _check_alpha(config.focal_alpha, None if train_labels is None else train_labels.shape[1], name)
    return LOSSES[name](LossInputs(multi_label, config, weights))


def _check_alpha(alpha: float | list[float] | None, num_classes: int | None, name: str) -> None:
    if name != "focal" or not isinstance(alpha, list) or num_classes is None or len(alpha) == num_classes:
        return
    raise ValueError(
        f"train.focal_alpha has {len(alpha)} values but the data has {num_classes} labels; "
        "give one alpha per label in label order (see model.json), or a single number for multi-label"
    )


def _tensor(values: np.ndarray | list[float]) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float32))
