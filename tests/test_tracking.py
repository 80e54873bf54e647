"""Experiment tracking: a run read back from MLflow's client and TensorBoard's event files."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mindscreen.config import ConfigError
from mindscreen.rundir import read_log
from mindscreen.tracking import NullTracker, build_tracker
from mindscreen.tuning import SearchSpace

from .conftest import demo_texts, tiny_config

pytest.importorskip("mlflow")
pytest.importorskip("tensorboard")


def _train(tmp: Path, encoder: Path, uri: str) -> Path:
    from mlflow import MlflowClient

    from mindscreen.training import train

    # The experiment is made first so that its artifacts land in tmp, not in the working directory.
    MlflowClient(tracking_uri=uri).create_experiment("t", artifact_location=(tmp / "artifacts").as_uri())
    run_dir = tmp / "run"
    settings = {"tracking": ["tensorboard", "mlflow"], "tracking_uri": uri, "experiment": "t"}
    train(tiny_config(run_dir, encoder, train=settings), progress=False)
    return run_dir


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory, tiny_bert_dir: Path) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("tracked")
    return _train(tmp, tiny_bert_dir, f"sqlite:///{tmp / 'mlflow.db'}"), tmp


def _only_run(uri: str) -> object:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("t")
    (run,) = client.search_runs([experiment.experiment_id])
    return client, run


def test_mlflow_holds_params_metrics_per_evaluation_and_final_per_class(tracked: tuple[Path, Path]) -> None:
    run_dir, store = tracked  # store: the tmp folder holding mlflow.db, artifacts/ and run/
    client, run = _only_run(f"sqlite:///{store / 'mlflow.db'}")
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.params["train.lr"] == "0.003" and run.data.params["profile.rows.train"] == "420"
    log = read_log(run_dir)
    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert [(m.step, m.value) for m in history] == [(r["step"], pytest.approx(r["val_loss"])) for r in log]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for label, scores in metrics["test"]["per_class"].items():
        assert run.data.metrics[f"final.test.per_class.{label}.f1"] == pytest.approx(scores["f1"])
        assert run.data.metrics[f"final.test.per_class.{label}.support"] == scores["support"]


def test_a_training_that_raises_leaves_its_mlflow_run_failed_not_running(
    tmp_path: Path, tiny_bert_dir: Path
) -> None:
    from mlflow import MlflowClient

    from mindscreen.training import train

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).create_experiment("t", artifact_location=(tmp_path / "a").as_uri())
    settings = {"tracking": ["mlflow", "tensorboard"], "tracking_uri": uri, "experiment": "t"}

    def crash(step: int, metrics: object) -> None:
        raise RuntimeError("stopped on purpose")

    config = tiny_config(tmp_path / "run", tiny_bert_dir, train=settings)
    with pytest.raises(RuntimeError, match="on purpose"):
        train(config, progress=False, on_evaluate=crash)
    _, run = _only_run(uri)
    assert run.info.status == "FAILED"
    assert list((tmp_path / "run" / "tensorboard").iterdir())  # what was logged before stays


def test_tuning_trials_are_nested_mlflow_runs_under_one_parent_per_search(
    tmp_path: Path, tiny_bert_dir: Path
) -> None:
    from mlflow import MlflowClient

    from mindscreen.tuning import tune

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    client.create_experiment("t", artifact_location=(tmp_path / "a").as_uri())
    settings = {"tracking": ["mlflow"], "tracking_uri": uri, "experiment": "t"}
    train = {"epochs": 1, "batch_size": 64, "fit_thresholds": False, **settings}
    base = tiny_config(tmp_path / "run", tiny_bert_dir, model={"max_length": 32}, train=train)
    lr = {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}
    space = SearchSpace.model_validate({"space": {"train.lr": lr}, "pruner": "none"})
    result = tune(base, space, n_trials=2, progress=False, study_name="s")

    runs = client.search_runs([client.get_experiment_by_name("t").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 3 and len(children) == 2 and parent.data.tags["mindscreen.study"] == "s"
    assert parent.info.status == "FINISHED" and parent.data.params["train.epochs"] == "1.0"
    assert sorted(c.data.tags["mindscreen.trial"] for c in children) == ["0", "1"]
    assert [c.info.status for c in children] == ["FINISHED", "FINISHED"]
    best = {}
    for child in children:
        history = client.get_metric_history(child.info.run_id, "val_macro_f1")
        best[float(child.data.params["train.lr"])] = max(m.value for m in history)
    assert best[result.best_params["train.lr"]] == pytest.approx(result.best_value)


def test_mlflow_keeps_the_run_directory_card_and_report_as_artifacts(tracked: tuple[Path, Path]) -> None:
    _, store = tracked
    client, run = _only_run(f"sqlite:///{store / 'mlflow.db'}")
    top = {a.path for a in client.list_artifacts(run.info.run_id)}
    inside = {a.path for a in client.list_artifacts(run.info.run_id, "run")}
    assert {"run", "report.html"} <= top
    assert {"run/README.md", "run/metrics.json", "run/profile.json", "run/tensorboard"} <= inside


def test_no_text_reaches_the_trackers(tracked: tuple[Path, Path]) -> None:
    run_dir, store = tracked
    texts = [t.encode() for t in demo_texts() if len(t) > 15]
    files = [p for p in store.rglob("*") if p.is_file() and p.suffix != ".safetensors"]
    assert files
    leaked = [p.name for p in files if any(t in p.read_bytes() for t in texts)]
    assert not leaked


def test_tensorboard_event_files_in_the_run_directory_read_back(tracked: tuple[Path, Path]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir, _ = tracked
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    log = read_log(run_dir)
    assert [e.step for e in events.Scalars("val_loss")] == [r["step"] for r in log]
    assert events.Scalars("val/macro_f1")[-1].value == pytest.approx(log[-1]["val"]["macro_f1"], rel=1e-6)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    final = events.Scalars("final/test/macro_f1")
    assert len(final) == 1 and final[0].value == pytest.approx(metrics["test"]["macro_f1"], rel=1e-6)


def test_no_tracking_imports_nothing_and_unknown_names_fail() -> None:
    assert isinstance(build_tracker([]), NullTracker)
    code = "import sys, mindscreen.training; print(sorted({'mlflow', 'tensorboard'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    with pytest.raises(ConfigError, match="train.tracking"):
        tiny_config(Path("x"), Path("y"), train={"tracking": ["wandb"]})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_a_real_mlflow_server_with_sqlite_receives_the_run(tmp_path: Path, tiny_bert_dir: Path) -> None:
    """Slow: starts ``mlflow server`` on loopback with a SQLite backend and trains against its URL."""
    port = _free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"]
    command += ["--artifacts-destination", str(tmp_path / "artifacts"), "--workers", "1"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        uri = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        run_dir = _train(tmp_path, tiny_bert_dir, uri)
        client, run = _only_run(uri)
        assert run.info.status == "FINISHED"
        assert len(client.get_metric_history(run.info.run_id, "val_loss")) == len(read_log(run_dir))
        assert "run/README.md" in {a.path for a in client.list_artifacts(run.info.run_id, "run")}
    finally:
        server.terminate()
        server.wait(timeout=30)
