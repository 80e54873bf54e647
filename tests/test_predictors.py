"""Every model kind of the registry through one conformance test of the predictor protocol.

A new kind gets a directory in the ``model_dirs`` fixture and runs through every test here; the first
test fails until it does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mindscreen.data import resolve_data_dir
from mindscreen.pipeline import load_pipeline
from mindscreen.predictors import (
    KIND_NAMES,
    Predictor,
    get_kind,
    kind_of,
    load_predictor,
    model_identity,
    predict_proba_chunked,
    read_labels,
)
from mindscreen.probabilities import apply_temperature, to_probabilities


def demo_texts(split: str = "dev", count: int = 9) -> list[str]:
    path = resolve_data_dir("demo") / f"{split}.jsonl"
    return [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()][:count]


def test_every_registered_kind_has_a_conformance_directory(model_dirs: dict[str, Path]) -> None:
    assert set(model_dirs) == set(KIND_NAMES)


@pytest.fixture(params=KIND_NAMES)
def loaded(request: pytest.FixtureRequest, model_dirs: dict[str, Path]) -> tuple[str, Path, Predictor]:
    kind = request.param
    return kind, model_dirs[kind], load_predictor(model_dirs[kind])


def test_the_registry_finds_the_kind_and_loads_its_class(loaded: tuple[str, Path, Predictor]) -> None:
    kind, path, predictor = loaded
    assert kind_of(path).name == kind == predictor.kind
    assert isinstance(predictor, get_kind(kind).load_class())
    assert isinstance(predictor, Predictor)
    assert read_labels(path) == (predictor.labels, predictor.multi_label)
    assert all((path / name).is_file() for name in get_kind(kind).identity_files)
    assert len(model_identity(path)) == 64


def test_probabilities_logits_members_and_labels_agree(loaded: tuple[str, Path, Predictor]) -> None:
    _, _, predictor = loaded
    texts = demo_texts()
    probs = predictor.predict_proba(texts)

    assert probs.shape == (len(texts), len(predictor.labels))
    assert np.all((probs >= 0) & (probs <= 1))
    if not predictor.multi_label:
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    logits = apply_temperature(predictor.predict_logits(texts), getattr(predictor, "temperature", 1.0))
    np.testing.assert_allclose(to_probabilities(logits, predictor.multi_label), probs, atol=1e-5)
    members = predictor.member_probas(texts)
    assert members.ndim == 3 and members.shape[1:] == probs.shape
    np.testing.assert_allclose(predictor.combine(members), probs, atol=1e-6)
    assert predictor.predict(texts) == predictor.decide(probs)
    assert predictor.predict_proba([]).shape == (0, len(predictor.labels))


def test_input_order_and_chunking_do_not_change_the_answer(
    loaded: tuple[str, Path, Predictor], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, predictor = loaded
    texts = demo_texts(count=11)
    probs = predictor.predict_proba(texts)
    np.testing.assert_allclose(predictor.predict_proba(texts[::-1]), probs[::-1], atol=1e-5)
    monkeypatch.setattr("mindscreen.predictors.protocol.CHUNK", 4)
    np.testing.assert_allclose(predict_proba_chunked(predictor, texts), probs, atol=1e-5)


def test_save_then_load_gives_the_same_answers(loaded: tuple[str, Path, Predictor], tmp_path: Path) -> None:
    kind, _, predictor = loaded
    texts = demo_texts()
    predictor.save(tmp_path / "copy")
    again = load_predictor(tmp_path / "copy")
    assert again.kind == kind and again.labels == predictor.labels
    np.testing.assert_allclose(again.predict_proba(texts), predictor.predict_proba(texts), atol=1e-5)
    np.testing.assert_array_equal(again.thresholds, predictor.thresholds)


def test_the_pipeline_wraps_every_kind_with_the_same_labels_and_probabilities(
    loaded: tuple[str, Path, Predictor],
) -> None:
    _, path, predictor = loaded
    texts = demo_texts()
    pipeline = load_pipeline(path)
    results = pipeline.classify(texts)
    assert [result.labels for result in results] == predictor.predict(texts) == pipeline.predict(texts)
    np.testing.assert_allclose(pipeline.predict_proba(texts), predictor.predict_proba(texts), atol=1e-6)
    assert {result.stage for result in results} == {"model"}


def copy_of(path: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / path.name
    shutil.copytree(path, target)
    return target


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_kind_refuses_thresholds_that_do_not_fit_its_labels(
    kind: str, model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    from mindscreen.contract import ContractError

    broken = copy_of(model_dirs[kind], tmp_path)
    thresholds = json.loads((broken / "thresholds.json").read_text())
    thresholds["thresholds"] = thresholds["thresholds"][:-1]
    (broken / "thresholds.json").write_text(json.dumps(thresholds))
    with pytest.raises(ContractError, match=r"thresholds\.json holds \d+ thresholds for \d+ labels"):
        load_predictor(broken)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_kind_refuses_a_marker_file_that_is_not_json(
    kind: str, model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    from mindscreen.contract import ContractError

    broken = copy_of(model_dirs[kind], tmp_path)
    marker = get_kind(kind).labels_file
    (broken / marker).write_text('{"labels": ["a", ')
    with pytest.raises(ContractError, match=f"{marker} is not valid JSON"):
        load_predictor(broken)
