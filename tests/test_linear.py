from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from mindscreen.config import DataConfig
from mindscreen.data import Splits, load_splits, resolve_data_dir
from mindscreen.linear import LinearPredictor, fit_logistic, is_linear_dir
from mindscreen.metrics import compute_metrics
from mindscreen.thresholds import default_thresholds


def _rows(split: str) -> list[dict]:
    path = resolve_data_dir("demo") / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_single_label(folder: Path, keep: list[str] | None = None) -> Path:
    """The demo texts with their first label only (a multi-class set), optionally only some labels."""
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        rows = [{"text": r["text"], "label": r["labels"][0]} for r in _rows(split)]
        rows = [r for r in rows if keep is None or r["label"] in keep]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.fixture(scope="module")
def multi_label_splits() -> Splits:
    return load_splits(DataConfig(dir="demo"))


@pytest.fixture(scope="module")
def multi_class_splits(tmp_path_factory: pytest.TempPathFactory) -> Splits:
    return load_splits(DataConfig(dir=str(_write_single_label(tmp_path_factory.mktemp("single")))))


@pytest.fixture(scope="module")
def multi_label_model(multi_label_splits: Splits) -> LinearPredictor:
    return LinearPredictor.fit(multi_label_splits)


def test_multi_label_model_gives_independent_probabilities_and_learns_the_demo(
    multi_label_splits: Splits, multi_label_model: LinearPredictor
) -> None:
    test = multi_label_splits.test
    assert test is not None
    probs = multi_label_model.predict_proba(test.texts)
    assert probs.shape == (len(test.texts), len(multi_label_splits.label_names))
    assert multi_label_model.multi_label and multi_label_model.labels == multi_label_splits.label_names
    assert np.all((probs >= 0) & (probs <= 1)) and not np.allclose(probs.sum(axis=1), 1.0)
    metrics = compute_metrics(
        test.labels, probs, multi_label_model.labels, True, multi_label_model.thresholds
    )
    assert metrics["macro_f1"] > 0.6


def test_multi_class_rows_sum_to_one_and_each_text_gets_one_label(multi_class_splits: Splits) -> None:
    model = LinearPredictor.fit(multi_class_splits)
    texts = multi_class_splits.dev.texts
    probs = model.predict_proba(texts)
    assert not model.multi_label
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-9)
    assert all(len(labels) == 1 for labels in model.predict(texts))
    np.testing.assert_allclose(model.thresholds.sum(), 1.0)  # fitted multi-class thresholds sum to one


def test_binary_softmax_equals_scikit_learn_logistic_regression(tmp_path: Path) -> None:
    splits = load_splits(DataConfig(dir=str(_write_single_label(tmp_path, keep=["neutral", "stress"]))))
    model = LinearPredictor.fit(splits, c=2.0, class_weight=None)
    features = model.features(splits.train.texts)
    reference = LogisticRegression(C=2.0, max_iter=2000).fit(features, splits.train.labels.argmax(1))
    texts = splits.dev.texts
    expected = reference.predict_proba(model.features(texts))
    np.testing.assert_allclose(model.predict_proba(texts), expected, atol=1e-5)


def test_features_equal_scikit_learns_tfidf_vectorizer(multi_label_splits: Splits) -> None:
    model = LinearPredictor.fit(multi_label_splits, fit_thresholds=False)
    reference = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(
        multi_label_splits.train.texts
    )
    texts = multi_label_splits.dev.texts + ["words never seen anywhere zzqx", ""]
    ours, theirs = model.features(texts), reference.transform(texts)
    assert model.blocks[0].vocabulary == reference.get_feature_names_out().tolist()
    np.testing.assert_allclose(ours.toarray(), theirs.toarray(), atol=1e-12)


def test_save_then_load_gives_equal_probabilities_without_any_pickle(
    tmp_path: Path, multi_label_splits: Splits, multi_label_model: LinearPredictor
) -> None:
    multi_label_model.save(tmp_path / "linear")
    files = sorted(p.name for p in (tmp_path / "linear").iterdir())
    assert files == ["linear.json", "thresholds.json", "vocabulary.json", "weights.safetensors"]
    assert all(not (tmp_path / "linear" / name).read_bytes().startswith(b"\x80") for name in files)
    assert is_linear_dir(tmp_path / "linear")
    loaded = LinearPredictor.from_dir(tmp_path / "linear")
    texts = multi_label_splits.dev.texts
    np.testing.assert_array_equal(loaded.predict_proba(texts), multi_label_model.predict_proba(texts))
    np.testing.assert_array_equal(loaded.thresholds, multi_label_model.thresholds)
    assert loaded.labels == multi_label_model.labels and loaded.multi_label
    assert loaded.predict(texts) == multi_label_model.predict(texts)


def test_char_ngrams_add_a_feature_block_that_survives_save_and_load(
    tmp_path: Path, multi_class_splits: Splits
) -> None:
    model = LinearPredictor.fit(multi_class_splits, char_ngrams=True, min_df=3)
    assert [block.analyzer for block in model.blocks] == ["word", "char_wb"]
    model.save(tmp_path)
    texts = multi_class_splits.test.texts if multi_class_splits.test else []
    np.testing.assert_array_equal(
        LinearPredictor.from_dir(tmp_path).predict_proba(texts), model.predict_proba(texts)
    )


def test_thresholds_are_fitted_on_dev_unless_disabled(multi_label_splits: Splits) -> None:
    fitted = LinearPredictor.fit(multi_label_splits)
    plain = LinearPredictor.fit(multi_label_splits, fit_thresholds=False)
    np.testing.assert_array_equal(plain.thresholds, default_thresholds(6, multi_label=True))
    assert not np.array_equal(fitted.thresholds, plain.thresholds)


def test_a_large_batch_predicts_the_same_as_one_text_at_a_time(multi_label_model: LinearPredictor) -> None:
    texts = [row["text"] for row in _rows("train")] * 10  # 4,200 texts: a sparse product, not a loop
    batch = multi_label_model.predict_proba(texts)
    one_by_one = np.concatenate([multi_label_model.predict_proba([text]) for text in texts[:50]])
    assert batch.shape == (4200, 6)
    np.testing.assert_allclose(batch[:50], one_by_one, atol=1e-12)
    assert multi_label_model.predict_proba([]).shape == (0, 6)


def test_a_class_never_positive_in_training_gets_a_near_zero_probability() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 3))
    targets = np.stack([features[:, 0] > 0, np.zeros(40, dtype=bool)], axis=1).astype(float)
    coef, intercept = fit_logistic(features, targets, True, 1.0, "balanced")
    assert np.all(coef[1] == 0) and 1 / (1 + np.exp(-intercept[1])) < 1e-4


def test_loading_a_folder_without_linear_json_names_the_expected_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"linear\.json"):
        LinearPredictor.from_dir(tmp_path)


def test_an_unknown_class_weight_is_refused(multi_label_splits: Splits) -> None:
    with pytest.raises(ValueError, match="class_weight"):
        LinearPredictor.fit(multi_label_splits, class_weight="auto")
