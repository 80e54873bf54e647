"""The search: open or join a study, run trials until the budget or the timeout, write the outputs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mindscreen.config import RunConfig, apply_override, load_config, validate_config
from mindscreen.defaults import resolve_config
from mindscreen.tuning.space import SearchSpace, SpaceError, check_space, load_space

if TYPE_CHECKING:
    import optuna

    from mindscreen.tuning.objective import Objective

logger = logging.getLogger(__name__)

# A process stops after this many failed trials in a row: something every trial hits is wrong.
MAX_FAILURES_IN_A_ROW = 5


@dataclass(frozen=True)
class TuneResult:
    """Where a search ended; ``trials`` counts the whole study, ``ran`` this process's trials."""

    study_name: str
    study_dir: Path
    metric: str
    direction: str
    best_value: float | None
    best_params: dict[str, Any]
    best_config: Path | None
    trials: dict[str, int]
    ran: dict[str, int]
    seconds: float

    def summary(self) -> str:
        """A few lines for people: counts, the best trial and where the files are."""
        counts = ", ".join(f"{n} {state}" for state, n in self.trials.items() if n)
        lines = [f"study {self.study_name}: {sum(self.trials.values())} trials ({counts or 'none'})"]
        if self.best_config is None:
            lines.append("no trial completed; see trials.csv for the errors")
        else:
            lines.append(f"best dev {self.metric}: {self.best_value:.4f} with")
            lines += [f"  {key}: {value}" for key, value in self.best_params.items()]
            lines.append(
                f"best config: {self.best_config} (train it: mindscreen train -c {self.best_config})"
            )
        lines.append(f"trials.csv, importances.json, history.png in {self.study_dir}")
        return "\n".join(lines)


def tune(
    config: str | Path | RunConfig | None,
    space: str | Path | SearchSpace,
    overrides: Iterable[str] = (),
    storage: str | None = None,
    study_name: str | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    pruner: str | None = None,
    output_dir: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> TuneResult:
    """Search hyperparameters of a run config with Optuna (TPE sampler, median/Hyperband pruning).

    Args:
        config: the base run config (YAML path, a RunConfig, or None: see ``load_config``); the
            keys it leaves open are chosen from the data once (``mindscreen.defaults``).
        space: the search-space YAML (see :mod:`mindscreen.tuning.space`) or a SearchSpace.
        overrides: ``key=value`` overrides of the base config.
        storage: None (in memory), a SQLite or journal file, or a database URL shared by workers.
        study_name: the study to create or join; default: the config's ``name``.
        n_trials: trials in the whole study (all workers together); default: the space file's.
        timeout: seconds this process keeps starting trials; default: the space file's.
        pruner: ``median``, ``hyperband`` or ``none``; default: the space file's.
        output_dir: the study folder; default: ``<output_dir>-tune`` of the base config, or
            ``<output_dir>-tune-<study>`` for a study not named after the config. One folder holds
            one study's outputs (see :mod:`mindscreen.tuning.folder`).
        progress: show a progress bar of trials done.
        overwrite: replace the outputs of another study in the folder.

    Raises:
        SpaceError: a bad search space, checked before the first trial.
        StudyFolderError: the folder holds another study's outputs (a SpaceError).
        ConfigError: a bad base config or override.
    """
    base = resolve_config(_base_config(config, overrides))  # trials start from the data's choices
    space = _settled_space(space, n_trials, timeout, pruner)
    check_space(space, base)
    from mindscreen.tuning.folder import claim_study_dir, default_study_dir, record_study
    from mindscreen.tuning.objective import Objective
    from mindscreen.tuning.outputs import write_outputs
    from mindscreen.tuning.study import build_storage, describe_storage, direction_of, open_study
    from mindscreen.tuning.tracking import build_trial_tracker

    name = study_name or base.name
    study_dir = Path(output_dir) if output_dir is not None else default_study_dir(base, name)
    identity = claim_study_dir(study_dir, name, storage, overwrite)
    direction = direction_of(base.train.metric)
    store = build_storage(storage)
    study = open_study(store, name, direction, space.sampler, space.pruner, base.train.metric)
    record_study(study_dir, identity, None if store is None else store.get_study_id_from_name(name))
    logger.info("study %s on %s: %s dev %s", name, describe_storage(storage), direction, base.train.metric)

    started = time.monotonic()
    tracker = build_trial_tracker(base, name, study_dir)
    objective = Objective(base, space, study_dir, space.n_trials, direction, tracker)
    failed = True
    try:
        ran = _search(study, store, objective, space, progress)
        failed = False
    finally:
        tracker.close(failed)
    seconds = time.monotonic() - started
    summary = write_outputs(study, base, study_dir, direction, space.sampler.seed, describe_storage(storage))
    best_path = study_dir / "best.yaml"
    return TuneResult(
        study_name=name,
        study_dir=study_dir,
        metric=base.train.metric,
        direction=direction,
        best_value=summary["best_value"],
        best_params=summary["best_params"],
        best_config=best_path if summary["best_trial"] is not None else None,
        trials={k: v for k, v in summary["trials"].items() if v},
        ran=ran,
        seconds=seconds,
    )


def _base_config(config: str | Path | RunConfig | None, overrides: Iterable[str]) -> RunConfig:
    if not isinstance(config, RunConfig):
        return load_config(config, overrides)
    raw = config.model_dump(mode="json")
    for item in overrides:
        apply_override(raw, item)
    return validate_config(raw)


def _settled_space(
    space: str | Path | SearchSpace, n_trials: int | None, timeout: float | None, pruner: str | None
) -> SearchSpace:
    """The space file's settings, with the arguments given taking precedence."""
    space = space if isinstance(space, SearchSpace) else load_space(space)
    raw = space.model_dump()
    if n_trials is not None:
        raw["n_trials"] = n_trials
    if timeout is not None:
        raw["timeout"] = timeout
    if pruner is not None:
        raw["pruner"] = {**raw["pruner"], "type": pruner}
    try:
        settled = SearchSpace.model_validate(raw)
    except ValueError as err:
        raise SpaceError(f"bad tuning argument: {err}") from None
    if settled.n_trials is None and settled.timeout is None:
        raise SpaceError(
            "the search has no end: set n_trials or timeout (in the space file, or --n-trials/--timeout)"
        )
    return settled


def _search(
    study: optuna.Study, storage: object, objective: Objective, space: SearchSpace, progress: bool
) -> dict[str, int]:
    """Run trials one by one until the study's budget is used or this process's time is up."""
    from optuna.trial import TrialState
    from tqdm.auto import tqdm

    from mindscreen.tuning.objective import BudgetUsed, TrialFailed, free_memory
    from mindscreen.tuning.study import budget_used, build_sampler, finished, recover_interrupted

    ran = {"complete": 0, "pruned": 0, "failed": 0}
    deadline = None if space.timeout is None else time.monotonic() + space.timeout
    failures_in_a_row = 0
    bar = tqdm(total=space.n_trials, desc=f"tune {study.study_name}", unit="trial", disable=not progress)
    bar.update(finished(study.get_trials(deepcopy=False)))  # a resumed or shared study starts part done
    try:
        while True:
            recover_interrupted(study, storage)
            trials = study.get_trials(deepcopy=False)
            # A queued trial (a retry of an interrupted one) counts toward the budget, so a study whose
            # last trial was interrupted looks finished: run what is queued before stopping. If another
            # worker takes it first, the objective's own budget check skips the fresh trial we get.
            queued = any(t.state == TrialState.WAITING for t in trials)
            if space.n_trials is not None and budget_used(trials) >= space.n_trials and not queued:
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            study.sampler = build_sampler(space.sampler, salt=len(trials))
            study.optimize(objective, n_trials=1, catch=(TrialFailed, BudgetUsed), gc_after_trial=True)
            free_memory()
            if objective.outcome == "skipped":
                break
            ran[objective.outcome] += 1
            failures_in_a_row = failures_in_a_row + 1 if objective.outcome == "failed" else 0
            if failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                logger.error(
                    "stopping: %d trials in a row failed; see trials.csv for the errors", failures_in_a_row
                )
                break
            bar.set_postfix(ran, refresh=False)
            bar.update(finished(study.get_trials(deepcopy=False)) - bar.n)  # all workers' trials
    finally:
        bar.close()
    return ran
