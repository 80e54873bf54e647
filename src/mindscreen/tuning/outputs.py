"""What a search leaves in its folder::

    STUDY_DIR/
      best.yaml          the full resolved config of the best trial: `mindscreen train -c best.yaml`
      trials.csv         one row per trial: state, dev value, parameters, evaluations, worker, error
      importances.json   parameter importances (fANOVA) over the complete trials
      history.png        dev value per trial, best so far, pruned trials at their last value
      summary.json       study, storage, metric, direction, counts, best trial
      trials/NNNN/       config.yaml and log.jsonl of each trial this machine ran

Every worker writes them at its end from the whole study, so the last worker to finish has the final
word; with a database storage any machine can write them again by joining with ``--n-trials`` reached.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from mindscreen.config import RunConfig, dump_config
from mindscreen.tuning.space import apply_params

logger = logging.getLogger(__name__)

BEST_CONFIG, TRIALS_CSV, IMPORTANCES, HISTORY, SUMMARY = (
    "best.yaml",
    "trials.csv",
    "importances.json",
    "history.png",
    "summary.json",
)


def searched_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The study's trials minus those skipped for want of budget."""
    return [t for t in study.get_trials(deepcopy=False) if "skipped" not in t.user_attrs]


def best_trial(trials: list[FrozenTrial], direction: str) -> FrozenTrial | None:
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if not complete:
        return None
    pick = max if direction == "maximize" else min
    return pick(complete, key=lambda t: float(t.value))  # type: ignore[arg-type]


def write_best_config(path: Path, base: RunConfig, trial: FrozenTrial, study_dir: Path, metric: str) -> None:
    """The base config with the best trial's parameters, runs going to ``STUDY_DIR/best``."""
    config = apply_params(base, trial.params, study_dir / "best")
    header = (
        f"# best trial {trial.number} of the search: dev {metric} {trial.value:.4f} (default thresholds)\n"
        f"# train it with: mindscreen train -c {path}\n"
    )
    path.write_text(header + dump_config(config))


def write_trials_csv(path: Path, trials: list[FrozenTrial], metric: str) -> None:
    keys = sorted({key for t in trials for key in t.params})
    columns = [
        "number",
        "state",
        f"dev_{metric}",
        *keys,
        "evaluations",
        "duration_s",
        "worker",
        "retry_of",
        "error",
    ]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for t in trials:
            worker = t.user_attrs.get("worker") or {}
            error = t.user_attrs.get("error", "interrupted" if t.state == TrialState.FAIL else "")
            duration = t.duration.total_seconds() if t.duration is not None else None
            writer.writerow(
                [
                    t.number,
                    t.state.name,
                    _fmt(t.value),
                    *(t.params.get(key, "") for key in keys),
                    t.user_attrs.get("evaluations", len(t.intermediate_values)),
                    _fmt(duration),
                    f"{worker.get('host', '')}:{worker.get('pid', '')}" if worker else "",
                    t.user_attrs.get("retry_of", t.system_attrs.get("failed_trial", "")),
                    error,
                ]
            )


def importances(study: optuna.Study, n_complete: int, seed: int | None) -> dict[str, Any]:
    """fANOVA importances of the parameters; a note instead when they cannot be computed."""
    payload: dict[str, Any] = {"evaluator": "fanova", "complete_trials": n_complete}
    if n_complete < 2:
        return {**payload, "importances": {}, "note": "needs at least 2 complete trials"}
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
        found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError) as err:  # e.g. every trial drew the same values
        return {**payload, "importances": {}, "note": f"not computable: {err}"}
    return {**payload, "importances": {k: float(v) for k, v in found.items()}}


def plot_history(path: Path, trials: list[FrozenTrial], metric: str, direction: str) -> None:
    """Dev value per trial, the best so far, pruned trials as crosses at their last reported value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    done = [
        (t.number, float(t.value)) for t in trials if t.state == TrialState.COMPLETE and t.value is not None
    ]
    pruned = [
        (t.number, t.intermediate_values[max(t.intermediate_values)])
        for t in trials
        if t.state == TrialState.PRUNED and t.intermediate_values
    ]
    if done:
        xs, ys = zip(*done, strict=True)
        ax.plot(xs, ys, "o", color="tab:blue", label="complete")
        best = _running_best(list(ys), direction)
        ax.step(xs, best, where="post", color="tab:red", label="best so far")
    if pruned:
        xs, ys = zip(*pruned, strict=True)
        ax.plot(xs, ys, "x", color="grey", label="pruned (last evaluation)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(f"dev {metric}")
    ax.set_title("optimisation history")
    if done or pruned:
        ax.legend(loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _running_best(values: list[float], direction: str) -> list[float]:
    out: list[float] = []
    for value in values:
        better = max if direction == "maximize" else min
        out.append(value if not out else better(out[-1], value))
    return out


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def write_outputs(
    study: optuna.Study,
    base: RunConfig,
    study_dir: Path,
    direction: str,
    seed: int | None,
    storage: str,
) -> dict[str, Any]:
    """Write every file of the study folder; return the summary (also in ``summary.json``)."""
    metric = base.train.metric
    trials = searched_trials(study)
    counts = {state.name.lower(): sum(t.state == state for t in trials) for state in TrialState}
    best = best_trial(trials, direction)
    write_trials_csv(study_dir / TRIALS_CSV, trials, metric)
    (study_dir / IMPORTANCES).write_text(
        json.dumps(importances(study, counts["complete"], seed), indent=2) + "\n"
    )
    plot_history(study_dir / HISTORY, trials, metric, direction)
    summary: dict[str, Any] = {
        "study": study.study_name,
        "storage": storage,
        "metric": f"dev {metric} (default thresholds)",
        "direction": direction,
        "trials": counts,
        "best_trial": None if best is None else best.number,
        "best_value": None if best is None else best.value,
        "best_params": {} if best is None else best.params,
    }
    best_path = study_dir / BEST_CONFIG
    if best is not None:
        write_best_config(best_path, base, best, study_dir, metric)
    else:
        best_path.unlink(missing_ok=True)
        logger.warning("no trial completed: no %s written; see %s", BEST_CONFIG, study_dir / TRIALS_CSV)
    (study_dir / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    return summary
