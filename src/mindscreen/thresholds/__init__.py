"""Decision thresholds: turning probabilities into labels, and fitting per-class thresholds on dev.

Shapes: ``N`` examples, ``C`` classes; ``probs`` and ``y_true`` are (N, C), thresholds are (C,).

Multi-label: class ``c`` is predicted when ``probs[:, c] >= thresholds[c]``, so a row may get no label.
Multi-class: every row gets exactly one label, ``argmax_c probs[:, c] / thresholds[c]``. The thresholds act
as per-class scales: only their ratios matter, equal thresholds give plain argmax, and with two classes
whose thresholds sum to 1 the rule is "positive when ``probs[:, 1] > thresholds[1]``". Fitted multi-class
thresholds are returned summing to 1 so that reading holds.

Fitting on dev can chase noise: dev F1 never drops, but test F1 may. :func:`fit_thresholds_checked`
keeps a fitted threshold only where its K-fold out-of-fold F1 on dev beats the default's in most
bootstrap resamples of dev (``confidence``).
"""

from mindscreen.thresholds.check import ThresholdCheck, fit_thresholds_checked, threshold_summary
from mindscreen.thresholds.fit import fit_thresholds
from mindscreen.thresholds.rules import (
    MULTI_LABEL_DEFAULT,
    apply_thresholds,
    decide_labels,
    default_thresholds,
)

__all__ = [
    "MULTI_LABEL_DEFAULT",
    "ThresholdCheck",
    "apply_thresholds",
    "decide_labels",
    "default_thresholds",
    "fit_thresholds",
    "fit_thresholds_checked",
    "threshold_summary",
]
