"""Building an ensemble: members → cached dev/test logits → temperatures → combination → thresholds.

Shapes: ``M`` members, ``N`` examples, ``C`` classes.

metrics.json compares the ensemble with the plain average and each member (see
:mod:`mindscreen.ensemble.scoring`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mindscreen.calibration import fit_temperature
from mindscreen.card import CARD_FILE, write_ensemble_card
from mindscreen.config import ConfigError, apply_override, load_config
from mindscreen.data import Splits, load_splits
from mindscreen.ensemble.cache import CACHE_DIR, Source, SplitLogits, load_logits, settings_identity
from mindscreen.ensemble.combine import fit_weights
from mindscreen.ensemble.members import Member, check_labels, is_finished_run
from mindscreen.ensemble.predictor import ENSEMBLE_FILE, MEMBERS_DIR, Ensemble, is_ensemble_dir
from mindscreen.ensemble.scoring import score_baselines, score_combination, summarise
from mindscreen.ensemble.spec import (
    SPEC_FILE,
    CombineSpec,
    EnsembleSpec,
    MemberSpec,
    dump_spec,
    load_spec,
    validate_spec,
)
from mindscreen.ensemble.stacking import STACKING_FILE, fit_stacking
from mindscreen.linear import LinearPredictor, is_linear_dir
from mindscreen.predictors import model_identity
from mindscreen.rundir import METRICS_FILE, THRESHOLDS_FILE, has_checkpoint, read_json, write_json
from mindscreen.thresholds import fit_thresholds_checked, threshold_summary

logger = logging.getLogger(__name__)

MEMBER_FILE = "member.json"  # beside a TF-IDF member: the identity it was fitted for
_OWN_FILES = {
    ENSEMBLE_FILE,
    THRESHOLDS_FILE,
    METRICS_FILE,
    SPEC_FILE,
    STACKING_FILE,
    CACHE_DIR,
    MEMBERS_DIR,
    CARD_FILE,
}


@dataclass(frozen=True)
class EnsembleResult:
    """What :func:`build_ensemble` made.

    Attributes:
        output_dir: the ensemble directory.
        ensemble: the loaded ensemble, ready to predict.
        metrics: the content of metrics.json.
        sources: per member, where its dev/test logits came from: 'cache', 'run' (the run's own
            predictions) or 'predicted'.
        trained: members trained (config) or fitted (TF-IDF) during this build.
    """

    output_dir: Path
    ensemble: Ensemble
    metrics: dict[str, Any]
    sources: dict[str, Source]
    trained: list[str]

    @property
    def predicted(self) -> list[str]:
        """Members whose dev/test predictions were computed (not cached) in this build."""
        return [name for name, source in self.sources.items() if source == "predicted"]


def build_ensemble(
    spec: str | Path | EnsembleSpec, overrides: Iterable[str] = (), progress: bool = True
) -> EnsembleResult:
    """Build the ensemble a spec describes and write its directory.

    Members listed as ``config`` are trained unless their output_dir is already a finished run; the
    TF-IDF member is fitted once per settings and training data. Member logits on dev and test are
    cached in the ensemble directory, so building again (another method, metric or grid) only refits
    the combination: seconds, not retraining.

    Args:
        spec: a YAML spec path, or a validated :class:`EnsembleSpec`.
        overrides: ``key=value`` overrides, e.g. ``combine.method=stacking``.
        progress: show progress bars while training members.

    Raises:
        ConfigError: an invalid spec. ValueError: members with another label set than the data.
        FileExistsError: output_dir holds something other than an ensemble.
    """
    spec = _resolve_spec(spec, overrides)
    output_dir = Path(spec.output_dir)
    _prepare_output_dir(output_dir)
    splits = load_splits(spec.data)
    members, logits, trained = _load_members(spec, splits, output_dir, progress)
    sources = {m.name: found.source for m, found in zip(members, logits, strict=True)}
    logger.info("member predictions: %s", ", ".join(f"{name} ({src})" for name, src in sources.items()))

    started = time.perf_counter()
    for member, found in zip(members, logits, strict=True):
        calibrate = spec.combine.calibrate
        fitted = fit_temperature(found.dev, splits.dev.labels, splits.multi_label) if calibrate else [1.0]
        member.temperature = float(fitted[0])
    dev_probs = np.stack([m.probabilities(found.dev) for m, found in zip(members, logits, strict=True)])
    ensemble, dev_combined, search = _fit_combination(members, dev_probs, splits, spec)
    seconds = time.perf_counter() - started
    ensemble.save(output_dir)

    test_probs = _test_probs(members, logits)
    weights = ensemble.weights
    metrics = {
        "primary_metric": spec.combine.metric,
        "method": spec.combine.method,
        "weights": None
        if weights is None
        else dict(zip(ensemble.member_names, weights.tolist(), strict=True)),
        "temperatures": {m.name: m.temperature for m in members},
        "sources": sources,
        "fit_seconds": seconds,
        **search,
        **score_combination(ensemble.combine, dev_combined, test_probs, ensemble.thresholds, splits),
        **score_baselines(ensemble.member_names, dev_probs, test_probs, splits),
    }
    metrics["summary"] = summarise(metrics, spec.combine.metric)
    write_json(output_dir / METRICS_FILE, metrics)
    (output_dir / SPEC_FILE).write_text(dump_spec(spec))
    write_ensemble_card(output_dir)
    return EnsembleResult(output_dir, ensemble, read_json(output_dir / METRICS_FILE), sources, trained)


def _load_members(
    spec: EnsembleSpec, splits: Splits, output_dir: Path, progress: bool
) -> tuple[list[Member], list[SplitLogits], list[str]]:
    """Every member (trained or fitted when needed), its dev/test logits, and the names trained now."""
    members, logits, trained = [], [], []
    for name, member_spec in zip(spec.member_names(), spec.members, strict=True):
        member, identity, was_trained = _resolve_member(name, member_spec, splits, output_dir, progress)
        check_labels(member, splits.label_names, splits.multi_label)
        members.append(member)
        trained.extend([name] if was_trained else [])
        logits.append(load_logits(member, identity, splits, spec.data, output_dir))
    return members, logits, trained


def _resolve_spec(spec: str | Path | EnsembleSpec, overrides: Iterable[str]) -> EnsembleSpec:
    if not isinstance(spec, EnsembleSpec):
        return load_spec(spec, overrides)
    raw = spec.model_dump(mode="json")
    for item in overrides:
        apply_override(raw, item, EnsembleSpec)
    return validate_spec(raw)


def _prepare_output_dir(output_dir: Path) -> None:
    """Allow an empty or missing folder, or a previous ensemble (rebuilt in place, its cache reused)."""
    if not output_dir.exists():
        output_dir.mkdir(parents=True)
        return
    foreign = sorted(entry.name for entry in output_dir.iterdir() if entry.name not in _OWN_FILES)
    if foreign and not is_ensemble_dir(output_dir):
        raise FileExistsError(
            f"output_dir {output_dir} holds {', '.join(foreign[:5])}, which is not an ensemble; "
            "set output_dir=... to an empty or new folder, or to a previous ensemble to rebuild it"
        )


def _resolve_member(
    name: str, spec: MemberSpec, splits: Splits, output_dir: Path, progress: bool
) -> tuple[Member, str, bool]:
    """Load (training or fitting it when needed) one member; return it, its identity, whether trained."""
    if spec.run is not None:  # any member kind: a run, a saved TF-IDF model, an ONNX export
        path = Path(spec.run)
        return Member(name, path), model_identity(path), False
    if spec.config is not None:
        from mindscreen.training import train

        try:
            config = load_config(spec.config, spec.overrides)
        except ConfigError as err:
            raise ConfigError(f"member {name!r}: {err}") from None
        path = Path(config.output_dir)
        trained = not is_finished_run(path)
        if trained:
            logger.info("member %s: training %s", name, path)
            train(config, resume=has_checkpoint(path), progress=progress)
        return Member(name, path, "run"), model_identity(path), trained
    assert spec.linear is not None
    settings = spec.linear.model_dump()
    identity = settings_identity(settings, splits)
    folder = output_dir / MEMBERS_DIR / name
    marker = folder / MEMBER_FILE
    fitted = not (
        is_linear_dir(folder) and marker.is_file() and read_json(marker).get("identity") == identity
    )
    if fitted:
        logger.info("member %s: fitting TF-IDF + logistic regression", name)
        LinearPredictor.fit(splits, **settings).save(folder)
        write_json(marker, {"identity": identity, "settings": settings})
    return Member(name, folder, "linear"), identity, fitted


def _fit_combination(
    members: list[Member], dev_probs: np.ndarray, splits: Splits, spec: EnsembleSpec
) -> tuple[Ensemble, np.ndarray, dict[str, Any]]:
    """The fitted ensemble, its dev probabilities (out-of-fold for stacking) and search details."""
    combine: CombineSpec = spec.combine
    y_dev, multi_label = splits.dev.labels, splits.multi_label
    weights, stacker, details = None, None, {}
    if combine.method == "stacking":
        stacker, dev_combined = fit_stacking(
            dev_probs, y_dev, multi_label, combine.stacking_c, combine.folds, combine.seed
        )
        details = {"stacking": {"folds": combine.folds, "c": combine.stacking_c}}
    else:
        weights = np.full(len(members), 1.0 / len(members))
        if combine.method == "weighted":
            fit = fit_weights(dev_probs, y_dev, multi_label, combine.metric, combine.grid_step, combine.seed)
            weights = fit.weights
            details = {"weight_search": {"candidates": fit.candidates, "dev_log_loss": fit.dev_log_loss}}
        dev_combined = np.tensordot(weights, dev_probs, axes=1)  # (N, C)
    # Checked out of fold as a run's are (same folds and seed): kept only where they beat the defaults.
    thresholds, check = fit_thresholds_checked(y_dev, dev_combined, multi_label)
    details["thresholds"] = threshold_summary(True, check.to_dict(splits.label_names))
    ensemble = Ensemble(members, combine.method, thresholds, weights, stacker, spec.name)
    return ensemble, dev_combined, details


def _test_probs(members: list[Member], logits: list[SplitLogits]) -> np.ndarray | None:
    tests = [found.test for found in logits]
    if any(test is None for test in tests):
        return None
    return np.stack(
        [m.probabilities(test) for m, test in zip(members, tests, strict=True) if test is not None]
    )
