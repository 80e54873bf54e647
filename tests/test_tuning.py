import csv
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import torch
import yaml
from optuna.trial import TrialState

from mindscreen.config import RunConfig, dump_config, load_config
from mindscreen.tuning import SearchSpace, SpaceError, load_space, tune
from mindscreen.tuning.objective import Objective
from mindscreen.tuning.space import apply_params, check_space, parse_space, suggest_params
from mindscreen.tuning.study import StorageError, build_storage, counts_toward_budget, direction_of

from .conftest import tiny_config

POSTGRES_URL = os.environ.get("MINDSCREEN_TEST_POSTGRES_URL")
REPO = Path(__file__).resolve().parents[1]
# Small trials: demo data, 32 tokens, one epoch of 7 steps, one evaluation.
FAST = {"train": {"epochs": 1, "batch_size": 64, "eval_batch_size": 128, "fit_thresholds": False}}
SPACE = {
    "space": {
        "train.lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
        "model.pooling": {"type": "categorical", "choices": ["mean", "cls"]},
    },
    "pruner": "none",
}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Two busy cores: one torch thread per process is many times faster than two fighting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def base(tmp_path: Path, tiny_bert_dir: Path) -> RunConfig:
    return tiny_config(tmp_path / "run", tiny_bert_dir, model={"max_length": 32}, **FAST)


def write_yaml(path: Path, payload: dict) -> Path:
    path.write_text(yaml.safe_dump(payload))
    return path


def worker(tmp_path: Path, base: RunConfig, storage: str, study: str, n_trials: int) -> subprocess.Popen:
    """A real `mindscreen tune` process (python -m mindscreen.cli) joining ``study``."""
    config = tmp_path / "base.yaml"
    config.write_text(dump_config(base))
    space = write_yaml(tmp_path / "space.yaml", SPACE)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    args = [
        "--storage",
        storage,
        "--study",
        study,
        "--n-trials",
        str(n_trials),
        "--output",
        str(tmp_path / "study"),
    ]
    command = [
        sys.executable,
        "-m",
        "mindscreen.cli",
        "tune",
        "-c",
        str(config),
        "--space",
        str(space),
        *args,
    ]
    with (tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log").open("w") as log:  # the child keeps its own handle
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


# --- the search space ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"train.lr_rate": {"type": "float", "low": 1e-5, "high": 1e-3}}, ["'lr_rate' is not a key", "lr, "]),
        (
            {"train.lr": {"type": "float", "low": 1e-3, "high": 1e-5}},
            ["space[train.lr]", "greater than high"],
        ),
        ({"train.lr": {"type": "float", "low": 0.0, "high": 1e-3, "log": True}}, ["log scale needs low > 0"]),
        (
            {"model.pooling": {"type": "categorical", "choices": []}},
            ["space[model.pooling]", "choices is empty"],
        ),
        (
            {"model.pooling": {"type": "categorical", "choices": ["mean", "nope"]}},
            ["'nope'", "choose one of"],
        ),
        ({"train.warmup": {"type": "float", "low": 0.0, "high": 1.5}}, ["train.warmup=1.5", "less than 1"]),
        ({"train.metric": {"type": "categorical", "choices": ["accuracy"]}}, ["cannot be searched"]),
        (
            {"model.head_blocks": {"type": "integer", "low": 0, "high": 2}},
            ["space[model.head_blocks]", "'int'"],
        ),
    ],
)
def test_a_bad_search_space_fails_before_any_trial_and_says_what_is_wrong(
    base: RunConfig, entry: dict, expected: list[str]
) -> None:
    with pytest.raises(SpaceError) as caught:
        check_space(parse_space({"space": entry}), base)
    for fragment in expected:
        assert fragment in str(caught.value)


def test_tune_rejects_a_bad_space_file_without_creating_a_study(base: RunConfig, tmp_path: Path) -> None:
    space = write_yaml(
        tmp_path / "space.yaml", {"space": {"model.poolin": {"type": "int", "low": 0, "high": 1}}}
    )
    with pytest.raises(SpaceError, match="'poolin' is not a key of model; keys there are: encoder, pooling"):
        tune(base, space, output_dir=tmp_path / "study", progress=False)
    assert not (tmp_path / "study").exists()


def test_a_sampled_trial_config_is_the_base_config_with_the_params_at_their_dotted_keys(
    base: RunConfig,
) -> None:
    space = parse_space(
        {
            "space": {
                "train.lr": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True},
                "model.head_blocks": {"type": "int", "low": 0, "high": 2},
                "model.pooling": {"type": "categorical", "choices": ["mean", "attention"]},
            }
        }
    )
    fixed = {"train.lr": 2e-4, "model.head_blocks": 2, "model.pooling": "attention"}
    params = suggest_params(optuna.trial.FixedTrial(fixed), space)
    config = apply_params(base, params, "elsewhere")
    assert (config.train.lr, config.model.head_blocks, config.model.pooling) == (2e-4, 2, "attention")
    assert config.output_dir == "elsewhere"
    assert config.model_dump(exclude={"output_dir", "train", "model"}) == base.model_dump(
        exclude={"output_dir", "train", "model"}
    )


def test_the_example_space_file_fits_the_quickstart_config() -> None:
    space = load_space(REPO / "examples" / "tune-space.yaml")
    check_space(space, load_config(None))
    assert space.pruner.type == "median" and space.sampler.seed == 0


def test_every_registered_metric_is_maximised_and_an_unknown_one_is_refused() -> None:
    from mindscreen.scores import METRICS

    assert {direction_of(m) for m in METRICS} == {"maximize"}
    with pytest.raises(ValueError, match="choose one of: macro_f1"):
        direction_of("val_loss")


def test_storage_strings_pick_sqlite_journal_or_fail_clearly(tmp_path: Path) -> None:
    assert isinstance(build_storage(str(tmp_path / "s.db")), optuna.storages.RDBStorage)
    assert isinstance(build_storage(str(tmp_path / "s.log")), optuna.storages.JournalStorage)
    assert build_storage(None) is None
    with pytest.raises(StorageError, match="postgresql\\+psycopg://"):
        build_storage("study.pickle")
    with pytest.raises(StorageError, match="cannot open storage sqlite:///.*no-such-dir"):
        build_storage(f"sqlite:///{tmp_path / 'no-such-dir' / 's.db'}")
    with pytest.raises(StorageError, match=r"\*\*\*@127.0.0.1:1/") as refused:  # nothing listens on port 1
        build_storage("postgresql://user:secret@127.0.0.1:1/db")
    assert "secret" not in str(refused.value)


# --- trials -------------------------------------------------------------------------------------------


def test_in_memory_search_writes_a_best_config_that_train_takes_as_it_is(
    base: RunConfig, tmp_path: Path
) -> None:
    space = write_yaml(tmp_path / "space.yaml", {**SPACE, "sampler": {"seed": 3}})
    result = tune(base, space, n_trials=3, output_dir=tmp_path / "study", progress=False)

    assert result.trials == {"complete": 3} and result.ran == {"complete": 3, "pruned": 0, "failed": 0}
    best = load_config(tmp_path / "study" / "best.yaml")
    expected = apply_params(base, result.best_params, tmp_path / "study" / "best")
    assert best == expected
    rows = list(csv.DictReader((tmp_path / "study" / "trials.csv").open()))
    assert [row["state"] for row in rows] == ["COMPLETE"] * 3
    assert max(float(row["dev_macro_f1"]) for row in rows) == pytest.approx(result.best_value, abs=1e-5)
    assert set(json.loads((tmp_path / "study" / "importances.json").read_text())["importances"]) <= set(
        SPACE["space"]
    )
    assert (tmp_path / "study" / "history.png").read_bytes()[:4] == b"\x89PNG"
    for folder in (tmp_path / "study" / "trials").iterdir():  # weights are never kept
        assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "log.jsonl"]


def test_a_timeout_without_a_trial_budget_stops_the_search_between_trials(
    base: RunConfig, tmp_path: Path
) -> None:
    space = SearchSpace.model_validate({**SPACE, "n_trials": None, "timeout": 0.01, "pruner": "hyperband"})
    result = tune(base, space, output_dir=tmp_path / "study", progress=False)
    assert result.ran == {"complete": 1, "pruned": 0, "failed": 0}  # a started trial always finishes


def test_a_trial_whose_dev_metric_lags_is_pruned_and_its_folder_emptied(
    base: RunConfig, tmp_path: Path
) -> None:
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    objective = Objective(base, parse_space(SPACE), tmp_path / "study", None, "maximize")
    study.optimize(objective, n_trials=1)

    trial = study.trials[0]
    assert trial.state == TrialState.PRUNED and objective.outcome == "pruned"
    assert list(trial.intermediate_values) == [1]  # steps are evaluations, counted from 1
    assert sorted(p.name for p in (tmp_path / "study" / "trials" / "0000").iterdir()) == [
        "config.yaml",
        "log.jsonl",
    ]


def test_a_diverging_trial_is_recorded_as_failed_and_the_study_goes_on(
    base: RunConfig, tmp_path: Path
) -> None:
    storage, name = f"sqlite:///{tmp_path / 'study.db'}", "diverge"
    space = {"space": {"train.lr": {"type": "categorical", "choices": [3e-3, 1e9]}}, "pruner": "none"}
    optuna.create_study(storage=storage, study_name=name, direction="maximize").enqueue_trial(
        {"train.lr": 1e9}
    )
    result = tune(
        base, SearchSpace.model_validate(space), storage=storage, study_name=name, n_trials=2, progress=False
    )

    trials = optuna.load_study(study_name=name, storage=storage).trials
    assert trials[0].state == TrialState.FAIL and "NaN" in trials[0].user_attrs["error"]
    assert counts_toward_budget(trials[0]) and len(trials) == 2  # the study went on after the failure
    for trial in trials:
        assert trial.state == TrialState.COMPLETE or (
            trial.params["train.lr"] == 1e9 and "error" in trial.user_attrs
        )
    assert sum(result.trials.values()) == 2 and result.trials["fail"] >= 1


# --- one folder per study ---------------------------------------------------------------------------


def test_a_resumed_study_continues_in_its_folder_and_names_its_metric(
    base: RunConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = write_yaml(tmp_path / "space.yaml", SPACE)
    storage = str(tmp_path / "study.db")
    first = tune(base, space, storage=storage, n_trials=1, progress=False)
    monkeypatch.chdir(tmp_path)  # the same storage, named from elsewhere
    second = tune(base, space, storage="study.db", n_trials=2, progress=False)

    assert first.study_dir == second.study_dir == Path(f"{base.output_dir}-tune")
    assert second.trials == {"complete": 2} and second.ran["complete"] == 1
    assert sorted(p.name for p in (second.study_dir / "trials").iterdir()) == ["0000", "0001"]
    study = optuna.load_study(study_name=base.name, storage=f"sqlite:///{storage}")
    assert study.metric_names == ["dev_macro_f1"]


def test_two_studies_of_one_config_never_share_a_folder(base: RunConfig, tmp_path: Path) -> None:
    from mindscreen.tuning.folder import StudyFolderError

    space = write_yaml(tmp_path / "space.yaml", SPACE)
    first = tune(base, space, n_trials=1, progress=False)  # in memory
    summary = (first.study_dir / "summary.json").read_text()

    with pytest.raises(StudyFolderError, match="a study in memory cannot be resumed"):
        tune(base, space, n_trials=1, progress=False)
    with pytest.raises(StudyFolderError, match=r"holds the outputs of study .*--study NAME or --output DIR"):
        tune(base, space, storage=str(tmp_path / "other.db"), n_trials=1, progress=False)
    assert (first.study_dir / "summary.json").read_text() == summary  # untouched

    named = tune(
        base, space, storage=str(tmp_path / "other.db"), study_name="lr search", n_trials=1, progress=False
    )
    assert named.study_dir == Path(f"{base.output_dir}-tune-lr-search")
    assert json.loads((named.study_dir / "summary.json").read_text())["study"] == "lr search"
    assert (first.study_dir / "summary.json").read_text() == summary

    replaced = tune(
        base, space, storage=str(tmp_path / "other.db"), n_trials=1, progress=False, overwrite=True
    )
    assert replaced.study_dir == first.study_dir
    assert json.loads((replaced.study_dir / "study.json").read_text())["storage"].endswith("other.db")
    assert [p.name for p in (replaced.study_dir / "trials").iterdir()] == ["0000"]


# --- resuming and sharing a study ---------------------------------------------------------------------


def test_a_study_whose_last_trial_was_interrupted_runs_the_retry_instead_of_stopping(
    base: RunConfig, tmp_path: Path
) -> None:
    """The queued retry counts toward the budget; the study must still run it (a race once hid this)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    from mindscreen.tuning.study import WORKER

    storage, name = f"sqlite:///{tmp_path / 'study.db'}", "last"
    write_yaml(tmp_path / "space.yaml", SPACE)
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    lr, pooling = FloatDistribution(1e-3, 1e-2, log=True), CategoricalDistribution(["mean", "cls"])
    for value in (0.1, 0.2):
        study.add_trial(
            optuna.trial.create_trial(
                params={"train.lr": 3e-3, "model.pooling": "mean"},
                distributions={"train.lr": lr, "model.pooling": pooling},
                value=value,
            )
        )
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a worker process that no longer exists
    running = study.ask({"train.lr": lr, "model.pooling": pooling})
    running.set_user_attr("worker", {**WORKER, "pid": gone.pid, "token": "dead-worker"})

    tune(base, tmp_path / "space.yaml", storage=storage, study_name=name, n_trials=3, progress=False)

    trials = optuna.load_study(study_name=name, storage=storage).trials
    states = [t.state for t in trials]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert trials[3].user_attrs["retry_of"] == 2 and trials[3].params == trials[2].params


def kill_while_training(
    tmp_path: Path, base: RunConfig, storage: str, name: str, n_trials: int
) -> optuna.Study:
    """SIGKILL a worker in the middle of a trial that follows a completed one.

    The kill can lose a race with the trial's own end (it is spotted by polling the storage); then no
    trial is left RUNNING, and a new worker joins the study for another try.
    """
    for _ in range(3):
        process = worker(tmp_path, base, storage, name, n_trials)
        study = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
            try:
                study = optuna.load_study(study_name=name, storage=storage)
            except KeyError:  # not created yet
                continue
            trials = study.get_trials(deepcopy=False)
            states = [t.state for t in trials]
            if TrialState.COMPLETE in states and states[-1] == TrialState.RUNNING and trials[-1].params:
                break  # killed while training
        assert process.poll() is None, "the worker ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert study is not None
        if study.get_trials(states=(TrialState.RUNNING,)):
            return study
    raise AssertionError("every kill landed between two trials")


def test_a_killed_sqlite_study_resumes_keeping_its_trials_and_retrying_the_interrupted_one(
    base: RunConfig, tmp_path: Path
) -> None:
    storage, name, n_trials = f"sqlite:///{tmp_path / 'study.db'}", "resume", 5
    # Trials of 6 epochs (about 3 s here) leave the kill a wide window inside one.
    base = base.model_copy(update={"train": base.train.model_copy(update={"epochs": 6})})
    study = kill_while_training(tmp_path, base, storage, name, n_trials)
    before = {t.number: t.value for t in study.get_trials(states=(TrialState.COMPLETE,))}
    interrupted = study.get_trials(states=(TrialState.RUNNING,))[0].number

    tune(base, tmp_path / "space.yaml", storage=storage, study_name=name, n_trials=n_trials, progress=False)

    trials = optuna.load_study(study_name=name, storage=storage).trials
    complete = {t.number: t.value for t in trials if t.state == TrialState.COMPLETE}
    seen = [(t.number, t.state.name, t.user_attrs) for t in trials]
    assert before.items() <= complete.items() and len(complete) == n_trials, seen
    assert trials[interrupted].state == TrialState.FAIL and not counts_toward_budget(trials[interrupted])
    retries = [t for t in trials if t.user_attrs.get("retry_of") == interrupted]
    assert len(retries) == 1 and retries[0].params == trials[interrupted].params


needs_postgres = pytest.mark.skipif(
    POSTGRES_URL is None,
    reason="needs PostgreSQL: MINDSCREEN_TEST_POSTGRES_URL=postgresql+psycopg://root@127.0.0.1:5432/test "
    "pytest tests/test_tuning.py",
)


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """The test database's URL with a new, empty schema first on its search path (dropped afterwards),
    so every run starts like a fresh database."""
    import sqlalchemy

    assert POSTGRES_URL is not None
    schema = f"mindscreen_test_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@needs_postgres
def test_workers_opening_a_fresh_postgresql_database_at_once_all_get_the_storage(
    fresh_postgres: str, tmp_path: Path
) -> None:
    script = (  # import, say so, then open the storage when told to: all four at once
        "import sys\n"
        "from mindscreen.tuning.study import build_storage\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "build_storage(sys.argv[1])\n"
    )
    command = [sys.executable, "-c", script, fresh_postgres]
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    processes = [subprocess.Popen(command, **pipes) for _ in range(4)]  # type: ignore[call-overload]
    for process in processes:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    errors = [p.communicate(timeout=120)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, errors


@needs_postgres
def test_two_workers_on_postgresql_share_one_study_and_its_trial_budget(
    base: RunConfig, tmp_path: Path, fresh_postgres: str
) -> None:
    name, n_trials = "shared", 6
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        folder.mkdir()
    workers = [worker(folder, base, fresh_postgres, name, n_trials) for folder in folders]
    try:
        assert [w.wait(timeout=240) for w in workers] == [0, 0], f"see {tmp_path}/*/worker-*.log"
        trials = optuna.load_study(study_name=name, storage=fresh_postgres).trials
        searched = [t for t in trials if "skipped" not in t.user_attrs]
        assert len(searched) == n_trials and all(t.state == TrialState.COMPLETE for t in searched)
        assert {w.pid for w in workers} == {t.user_attrs["worker"]["pid"] for t in searched}
    finally:
        for w in workers:
            w.kill()
