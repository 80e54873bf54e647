from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from mindscreen.config import ConfigError, DataConfig
from mindscreen.data import load_splits, resolve_data_dir
from mindscreen.ensemble import (
    Ensemble,
    EnsembleResult,
    build_ensemble,
    fit_stacking,
    fit_weights,
    format_summary,
    load_spec,
    validate_spec,
)
from mindscreen.ensemble.combine import SEARCH_GRID
from mindscreen.metrics import compute_metrics
from mindscreen.probabilities import to_probabilities
from mindscreen.rundir import read_predictions, read_thresholds, run_data_config
from mindscreen.scores import score
from mindscreen.thresholds import apply_thresholds, fit_thresholds

from .conftest import tiny_config


def _write_spec(path: Path, spec: dict) -> Path:
    path.write_text(yaml.safe_dump(spec))
    return path


def _synthetic(multi_label: bool, rows: int = 300, classes: int = 4, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Labels, a good member's probabilities (noisy truth) and a random member's."""
    rng = np.random.default_rng(seed)
    if multi_label:
        truth = (rng.random((rows, classes)) < 0.3).astype(float)
        good = np.clip(0.7 * truth + 0.15 + rng.normal(0, 0.15, truth.shape), 0.01, 0.99)
        noise = rng.random((rows, classes))
    else:
        truth = np.eye(classes)[rng.integers(0, classes, rows)]
        good = rng.dirichlet(np.ones(classes), rows) * 0.5 + truth * 0.5
        noise = rng.dirichlet(np.ones(classes), rows)
    return truth, good, noise


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, trained_run: Path, tiny_bert_dir: Path) -> EnsembleResult:
    """A run member, a config member trained here (cls pooling, seed 3, 1 epoch) and the TF-IDF member."""
    folder = tmp_path_factory.mktemp("ensemble")
    config = tiny_config(folder / "runs" / "cls", tiny_bert_dir, model={"pooling": "cls", "max_length": 32})
    config_path = folder / "cls.yaml"
    config_path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    spec = {
        "output_dir": str(folder / "ens"),
        "data": {"dir": "demo"},
        "members": [
            {"run": str(trained_run), "name": "mean"},
            {"config": str(config_path), "overrides": ["train.epochs=1", "train.seed=3"]},
            {"linear": {"c": 4.0}},
        ],
    }
    return build_ensemble(_write_spec(folder / "spec.yaml", spec), progress=False)


def test_an_ensemble_directory_holds_its_files_and_members(built: EnsembleResult) -> None:
    names = sorted(p.name for p in built.output_dir.iterdir())
    assert names == [
        "README.md",
        "cache",
        "config.yaml",
        "ensemble.json",
        "members",
        "metrics.json",
        "thresholds.json",
    ]
    assert built.ensemble.member_names == ["mean", "cls", "tfidf"]
    assert built.trained == ["cls", "tfidf"]
    assert built.sources == {"mean": "run", "cls": "run", "tfidf": "predicted"}
    assert len(list((built.output_dir / "cache").glob("*.npz"))) == 3
    summary = built.metrics["summary"]
    assert set(summary["members"]) == {"mean", "cls", "tfidf"} and summary["ensemble"]["test"] is not None


def test_the_ensemble_directory_evaluates_like_a_run_with_the_reported_test_score(
    built: EnsembleResult,
) -> None:
    data = run_data_config(built.output_dir)  # what `mindscreen evaluate` reads for the columns
    test = load_splits(data).test
    assert test is not None and data.dir == "demo"
    loaded = Ensemble.from_dir(built.output_dir)
    metrics = compute_metrics(
        test.labels, loaded.predict_proba(test.texts), loaded.labels, True, loaded.thresholds
    )
    assert metrics["macro_f1"] == pytest.approx(built.metrics["test"]["macro_f1"], abs=1e-9)
    table = format_summary(built.metrics)
    assert all(name in table for name in ("ensemble (weighted)", "plain average", "mean", "cls", "tfidf"))


def test_weights_are_non_negative_and_sum_to_one(built: EnsembleResult) -> None:
    weights = built.ensemble.weights
    assert weights is not None and np.all(weights >= 0)
    np.testing.assert_allclose(weights.sum(), 1.0)
    assert set(built.metrics["weights"]) == {"mean", "cls", "tfidf"}


def test_the_ensemble_probability_is_the_weighted_member_probabilities(built: EnsembleResult) -> None:
    texts = ["I can't sleep and everything feels pointless", "lovely walk in the park today"]
    members = built.ensemble.member_probas(texts)
    assert members.shape == (3, 2, 6)
    assert built.ensemble.weights is not None
    expected = np.tensordot(built.ensemble.weights, members, axes=1)
    np.testing.assert_allclose(built.ensemble.predict_proba(texts), expected)


def test_save_then_load_gives_equal_outputs(built: EnsembleResult, tmp_path: Path) -> None:
    splits = load_splits(DataConfig(dir="demo"))
    texts = splits.dev.texts[:40]
    loaded = Ensemble.from_dir(built.output_dir)
    np.testing.assert_allclose(loaded.predict_proba(texts), built.ensemble.predict_proba(texts), atol=1e-6)
    assert loaded.predict(texts) == built.ensemble.predict(texts)
    built.ensemble.save(tmp_path / "copy")  # another folder: the TF-IDF member is written into it
    copy = Ensemble.from_dir(tmp_path / "copy")
    assert (tmp_path / "copy" / "members" / "tfidf" / "linear.json").is_file()
    np.testing.assert_allclose(copy.member_probas(texts), loaded.member_probas(texts), atol=1e-6)
    np.testing.assert_array_equal(copy.thresholds, loaded.thresholds)


def test_building_again_reuses_every_cached_prediction(built: EnsembleResult, tmp_path: Path) -> None:
    copy = tmp_path / "again"
    shutil.copytree(built.output_dir, copy)
    cache = {p.name: p.stat().st_mtime_ns for p in (copy / "cache").iterdir()}
    again = build_ensemble(
        copy / "config.yaml", [f"output_dir={copy}", "combine.method=average"], progress=False
    )
    assert again.predicted == [] and again.trained == []
    assert not any(member.loaded for member in again.ensemble.members)  # re-weighting loads no model
    assert set(again.sources.values()) == {"cache"}
    assert {p.name: p.stat().st_mtime_ns for p in (copy / "cache").iterdir()} == cache
    assert again.ensemble.weights is not None
    np.testing.assert_allclose(again.ensemble.weights, 1 / 3)
    np.testing.assert_allclose(
        again.metrics["test"]["macro_f1"], again.metrics["average"]["test"]["macro_f1"]
    )


def test_stacking_builds_from_the_cache_and_reloads(built: EnsembleResult, tmp_path: Path) -> None:
    spec = yaml.safe_load((built.output_dir / "config.yaml").read_text())
    spec["output_dir"] = str(tmp_path / "stacked")
    spec["members"] = [{"run": str(built.ensemble.members[0].path), "name": "mean"}, {"linear": {}}]
    result = build_ensemble(
        validate_spec(spec), ["combine.method=stacking", "combine.folds=3"], progress=False
    )
    assert (result.output_dir / "stacking.safetensors").is_file() and result.ensemble.weights is None
    texts = ["work deadlines are crushing me", "had a calm evening"]
    np.testing.assert_allclose(
        Ensemble.from_dir(result.output_dir).predict_proba(texts), result.ensemble.predict_proba(texts)
    )


def test_a_multi_class_ensemble_gives_rows_summing_to_one_and_one_label_per_text(tmp_path: Path) -> None:
    data = tmp_path / "single"
    data.mkdir()
    for split in ("train", "dev", "test"):
        lines = (resolve_data_dir("demo") / f"{split}.jsonl").read_text().splitlines()
        rows = [{"text": row["text"], "label": row["labels"][0]} for row in map(json.loads, lines)]
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    members = [
        {"linear": {"c": 0.5}, "name": "soft"},
        {"linear": {"c": 8.0, "char_ngrams": True}, "name": "chars"},
    ]
    spec = {"output_dir": str(tmp_path / "e"), "data": {"dir": str(data)}, "members": members}
    texts = ["my boss keeps piling on work", "rent is due and I am broke", "slept well"]
    for method in ("weighted", "stacking"):
        result = build_ensemble(validate_spec(spec), [f"combine.method={method}"], progress=False)
        probs = result.ensemble.predict_proba(texts)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0)
        assert [len(labels) for labels in result.ensemble.predict(texts)] == [1, 1, 1]
        np.testing.assert_allclose(Ensemble.from_dir(result.output_dir).predict_proba(texts), probs)
    assert result.trained == []  # the second build reused both fitted TF-IDF members


def test_identical_members_equal_the_member(trained_run: Path, tmp_path: Path) -> None:
    spec = {
        "output_dir": str(tmp_path / "twins"),
        "data": {"dir": "demo"},
        "members": [{"run": str(trained_run), "name": "a"}, {"run": str(trained_run), "name": "b"}],
        "combine": {"calibrate": False},
    }
    result = build_ensemble(validate_spec(spec), progress=False)
    logits, _ = read_predictions(trained_run, "test") or (None, None)
    assert logits is not None
    test_texts = load_splits(DataConfig(dir="demo")).test.texts  # type: ignore[union-attr]
    member_probs = to_probabilities(logits, multi_label=True)
    np.testing.assert_allclose(result.ensemble.predict_proba(test_texts), member_probs, atol=1e-5)
    np.testing.assert_allclose(
        result.ensemble.thresholds, read_thresholds(trained_run, result.ensemble.labels)
    )
    run_metrics = json.loads((trained_run / "metrics.json").read_text())
    assert result.metrics["test"]["macro_f1"] == pytest.approx(run_metrics["test"]["macro_f1"])
    assert result.metrics["summary"]["members"]["a"] == result.metrics["summary"]["ensemble"]


def test_weight_goes_to_the_good_member_not_the_random_one() -> None:
    for multi_label in (True, False):
        truth, good, noise = _synthetic(multi_label)
        fit = fit_weights(np.stack([noise, good]), truth, multi_label)
        assert fit.weights[1] > 0.8, (multi_label, fit.weights)
        assert np.all(fit.weights >= 0) and fit.weights.sum() == pytest.approx(1.0)


def test_fitted_weights_are_never_worse_on_dev_than_any_member_or_the_average() -> None:
    truth, good, noise = _synthetic(True, seed=1)
    other = np.clip(good + np.random.default_rng(5).normal(0, 0.2, good.shape), 0, 1)
    probs = np.stack([good, other, noise])
    fit = fit_weights(probs, truth, True, grid_step=0.25)
    for weights in [*np.eye(3), np.full(3, 1 / 3)]:
        combined = np.tensordot(weights, probs, axes=1)
        thresholds = fit_thresholds(truth, combined, True, grid=SEARCH_GRID)
        assert fit.dev_score >= score(truth, apply_thresholds(combined, thresholds, True), "macro_f1")


def test_stacking_dev_predictions_are_out_of_fold() -> None:
    truth, good, noise = _synthetic(False, rows=200)
    probs = np.stack([good, noise])
    stacker, out_of_fold = fit_stacking(probs, truth, multi_label=False, folds=4)
    in_sample = stacker.predict_proba(probs)
    np.testing.assert_allclose(out_of_fold.sum(axis=1), 1.0)
    assert not np.allclose(out_of_fold, in_sample)
    nll = [-np.mean(np.log(p[truth == 1])) for p in (in_sample, out_of_fold)]
    assert nll[0] < nll[1]  # rows seen in fitting are predicted better: the dev score is not in-sample


def test_the_fast_score_agrees_with_compute_metrics() -> None:
    labels = [f"c{i}" for i in range(4)]
    for multi_label in (True, False):
        truth, good, _ = _synthetic(multi_label, rows=120, seed=3)
        thresholds = np.full(4, 0.5 if multi_label else 0.25)
        predicted = apply_thresholds(good, thresholds, multi_label)
        reference = compute_metrics(truth, good, labels, multi_label, thresholds)
        for metric in ("macro_f1", "micro_f1", "weighted_f1", "accuracy"):
            assert score(truth, predicted, metric) == pytest.approx(reference[metric]), metric


def test_each_member_gets_its_own_dev_fitted_temperature(built: EnsembleResult) -> None:
    temperatures = built.metrics["temperatures"]
    assert all(t > 0 for t in temperatures.values()) and len(set(temperatures.values())) == 3
    assert [m.temperature for m in Ensemble.from_dir(built.output_dir, lazy=True).members] == list(
        temperatures.values()
    )


def test_members_with_another_label_set_are_refused(trained_run: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for split in ("train", "dev", "test"):
        rows = [{"text": f"text number {i} of {split}", "label": "ab"[i % 2]} for i in range(12)]
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = {
        "output_dir": str(tmp_path / "e"),
        "data": {"dir": str(data)},
        "members": [{"run": str(trained_run)}],
    }
    with pytest.raises(ValueError, match="members must share the label set"):
        build_ensemble(validate_spec(spec), progress=False)


def test_spec_errors_name_the_dotted_key(tmp_path: Path) -> None:
    base = {"data": {"dir": "demo"}, "members": [{"run": "runs/a"}, {"linear": None}]}
    path = _write_spec(tmp_path / "spec.yaml", base)
    assert load_spec(path).members[1].linear is not None  # `- linear:` means the default TF-IDF member
    assert load_spec(path, ["members.1.linear.c=8"]).members[1].linear.c == 8  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match=r"combine\.methd"):
        load_spec(path, ["combine.methd=stacking"])
    with pytest.raises(ConfigError, match=r"members\.1\.linear\.cc"):
        validate_spec({**base, "members": [{"run": "a"}, {"linear": {"cc": 1}}]})
    with pytest.raises(
        ConfigError, match=r"members\.0: .*exactly one of run, config, linear; found run, linear"
    ):
        validate_spec({**base, "members": [{"run": "a", "linear": {}}]})
    with pytest.raises(ConfigError, match="repeated: x"):
        validate_spec({**base, "members": [{"run": "a", "name": "x"}, {"run": "b", "name": "x"}]})
    assert validate_spec({**base, "members": [{"run": "r/a"}, {"run": "s/a"}]}).member_names() == ["a", "a-2"]


def test_an_unfinished_run_member_is_refused_with_a_fix(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    spec = {
        "output_dir": str(tmp_path / "e"),
        "data": {"dir": "demo"},
        "members": [{"run": str(tmp_path / "half")}],
    }
    with pytest.raises(FileNotFoundError, match="not a finished mindscreen run directory"):
        build_ensemble(validate_spec(spec), progress=False)
