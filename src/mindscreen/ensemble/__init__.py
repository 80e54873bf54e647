"""Ensembles of diverse members with weights fitted on dev; loaded and used like a single run.

- :mod:`~mindscreen.ensemble.spec`: the YAML spec (members, data, combination) and its overrides.
- :mod:`~mindscreen.ensemble.members`: members at prediction time, as raw logits plus a temperature.
- :mod:`~mindscreen.ensemble.cache`: member logits on dev and test, cached so re-weighting takes seconds.
- :mod:`~mindscreen.ensemble.combine`: temperatures and simplex weights fitted for the primary metric.
- :mod:`~mindscreen.ensemble.stacking`: logistic regression on member probabilities, cross-validated.
- :mod:`~mindscreen.ensemble.predictor`: :class:`Ensemble`, the predictor and its directory.
- :mod:`~mindscreen.ensemble.scoring`: the ensemble against the plain average and each member.
- :mod:`~mindscreen.ensemble.build`: :func:`build_ensemble`, from spec to ensemble directory.
"""

from mindscreen.ensemble.build import EnsembleResult, build_ensemble
from mindscreen.ensemble.combine import WeightFit, fit_weights
from mindscreen.ensemble.members import Member
from mindscreen.ensemble.predictor import Ensemble, is_ensemble_dir
from mindscreen.ensemble.scoring import format_summary
from mindscreen.ensemble.spec import EnsembleSpec, load_spec, validate_spec
from mindscreen.ensemble.stacking import Stacker, fit_stacking

__all__ = [
    "Ensemble",
    "EnsembleResult",
    "EnsembleSpec",
    "Member",
    "Stacker",
    "WeightFit",
    "build_ensemble",
    "fit_stacking",
    "fit_weights",
    "format_summary",
    "is_ensemble_dir",
    "load_spec",
    "validate_spec",
]
