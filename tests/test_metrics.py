import json
import warnings

import numpy as np
import pytest

from mindscreen.metrics import (
    METRICS,
    compute_metrics,
    expected_calibration_error,
    format_metrics,
    primary_metric,
)

NAMES = ["none", "anxiety", "depression"]


def _one_hot(indices: list[int] | np.ndarray, c: int = 3) -> np.ndarray:
    return np.eye(c, dtype=int)[np.asarray(indices)]


@pytest.mark.parametrize("multi_label", [True, False])
def test_perfect_predictions_give_f1_one_and_auc_one(multi_label: bool) -> None:
    y_true = _one_hot([0, 1, 2, 0, 1, 2, 0])
    probs = np.where(y_true == 1, 0.9, 0.05)
    metrics = compute_metrics(y_true, probs, NAMES, multi_label)
    for key in ("macro_f1", "micro_f1", "weighted_f1", "accuracy", "macro_roc_auc", "macro_pr_auc"):
        assert metrics[key] == pytest.approx(1.0)
    for row in metrics["per_class"].values():
        assert row["f1"] == row["roc_auc"] == row["pr_auc"] == 1.0


def test_weighted_micro_and_macro_agree_on_balanced_perfect_case() -> None:
    y_true = _one_hot([0, 1, 2] * 4)
    metrics = compute_metrics(y_true, y_true.astype(float), NAMES, multi_label=False)
    assert metrics["macro_f1"] == metrics["micro_f1"] == metrics["weighted_f1"] == 1.0


@pytest.mark.parametrize("multi_label", [True, False])
def test_metrics_are_json_serialisable_with_undefined_auc_as_none(multi_label: bool) -> None:
    y_true = _one_hot([0, 1, 0, 1])  # 'depression' absent: AUCs undefined
    probs = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.5, 0.1, 0.4], [0.2, 0.2, 0.6]])
    metrics = compute_metrics(y_true, probs, NAMES, multi_label)
    decoded = json.loads(json.dumps(metrics, allow_nan=False))
    assert decoded == metrics
    assert decoded["per_class"]["depression"]["roc_auc"] is None
    assert decoded["per_class"]["depression"]["pr_auc"] is None


def test_absent_class_with_no_predictions_scores_zero_without_warnings() -> None:
    y_true = _one_hot([0, 1, 0, 1])
    probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.2, 0.7, 0.1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = compute_metrics(y_true, probs, NAMES, multi_label=False)
    row = metrics["per_class"]["depression"]
    assert (row["precision"], row["recall"], row["f1"], row["support"]) == (0.0, 0.0, 0.0, 0)
    assert metrics["macro_f1"] == pytest.approx(2 / 3)
    assert metrics["macro_roc_auc"] == 1.0  # averaged over the two defined classes


def test_single_class_dev_set_and_all_zero_predictions_do_not_crash_or_warn() -> None:
    y_true = np.zeros((5, 3), dtype=int)
    y_true[:, 0] = 1
    probs = np.full((5, 3), 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        multi_label = compute_metrics(y_true, probs, NAMES, multi_label=True)
        multi_class = compute_metrics(y_true, probs, NAMES, multi_label=False)
    assert multi_label["macro_f1"] == 0.0 and multi_label["macro_roc_auc"] is None
    assert multi_class["accuracy"] == 1.0  # argmax ties go to the first class
    json.dumps(multi_label, allow_nan=False)


def test_confusion_matrix_rows_sum_to_supports() -> None:
    rng = np.random.default_rng(0)
    y_true = _one_hot(rng.integers(0, 3, size=200))
    probs = rng.dirichlet(np.ones(3), size=200)
    metrics = compute_metrics(y_true, probs, NAMES, multi_label=False)
    matrix = np.array(metrics["confusion_matrix"]["matrix"])
    supports = [metrics["per_class"][name]["support"] for name in NAMES]
    np.testing.assert_array_equal(matrix.sum(axis=1), supports)
    assert metrics["confusion_matrix"]["labels"] == NAMES
    assert matrix.sum() == metrics["num_examples"] == 200


def test_hamming_and_subset_accuracy_match_hand_count() -> None:
    y_true = np.array([[1, 0, 1], [0, 1, 0]])
    probs = np.array([[0.9, 0.6, 0.8], [0.1, 0.7, 0.2]])  # one wrong cell out of six
    metrics = compute_metrics(y_true, probs, NAMES, multi_label=True)
    assert metrics["hamming_loss"] == pytest.approx(1 / 6)
    assert metrics["subset_accuracy"] == metrics["accuracy"] == 0.5
    assert "confusion_matrix" not in metrics


def test_thresholds_change_predictions() -> None:
    y_true = np.array([[1, 0], [0, 1]])
    probs = np.array([[0.3, 0.9], [0.1, 0.8]])
    names = ["a", "b"]
    assert compute_metrics(y_true, probs, names, True)["per_class"]["a"]["recall"] == 0.0
    tuned = compute_metrics(y_true, probs, names, True, thresholds=np.array([0.2, 0.5]))
    assert tuned["per_class"]["a"]["f1"] == 1.0


def test_primary_metric_reads_each_registered_name() -> None:
    metrics = compute_metrics(_one_hot([0, 1, 2]), np.eye(3), NAMES, multi_label=True)
    for name in METRICS:
        assert primary_metric(metrics, name) == 1.0


def test_primary_metric_lists_valid_names_for_unknown_name() -> None:
    with pytest.raises(ValueError, match="choose one of: macro_f1, micro_f1, weighted_f1, accuracy"):
        primary_metric({"macro_f1": 0.5}, "f1")


def test_format_metrics_has_summary_and_one_row_per_class() -> None:
    y_true = _one_hot([0, 1, 0, 1])
    probs = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.5, 0.1, 0.4], [0.2, 0.2, 0.6]])
    text = format_metrics(compute_metrics(y_true, probs, NAMES, multi_label=False), NAMES)
    lines = text.splitlines()
    assert len(lines) == 2 + len(NAMES)
    assert "macro-F1" in lines[0] and "n 4" in lines[0]
    assert lines[-1].startswith("depression") and lines[-1].rstrip().endswith("-")


def test_ece_is_zero_for_perfectly_calibrated_bins() -> None:
    # Multi-label: p=0.25 with 1 positive in 4, p=0.75 with 3 in 4.
    y_true = np.array([[1], [0], [0], [0], [1], [1], [1], [0]])
    probs = np.array([[0.25]] * 4 + [[0.75]] * 4)
    assert expected_calibration_error(y_true, probs, multi_label=True) == pytest.approx(0.0)
    # Multi-class: top-1 confidence 0.8, right 8 times in 10.
    probs = np.tile([0.8, 0.2], (10, 1))
    y_true = _one_hot([0] * 8 + [1] * 2, 2)
    assert expected_calibration_error(y_true, probs, multi_label=False) == pytest.approx(0.0)


def test_ece_is_large_for_overconfident_predictions() -> None:
    probs = np.tile([0.99, 0.01], (10, 1))
    y_true = _one_hot([0, 1] * 5, 2)
    assert expected_calibration_error(y_true, probs, multi_label=False) == pytest.approx(0.49)


def test_label_names_must_match_columns() -> None:
    with pytest.raises(ValueError, match="3 distinct names"):
        compute_metrics(_one_hot([0, 1]), np.eye(3)[:2], ["a", "b"], multi_label=False)


@pytest.mark.parametrize("multi_label", [False, True])
def test_f1_precision_and_recall_agree_with_scikit_learn(multi_label: bool) -> None:
    from sklearn.metrics import precision_recall_fscore_support

    rng = np.random.default_rng(7)
    num_rows, num_classes = 60, 5
    probs = rng.random((num_rows, num_classes))
    if multi_label:
        y_true = (rng.random((num_rows, num_classes)) < 0.3).astype(int)
        y_true[:, 4] = 0  # a label never true: zero_division must agree
    else:
        y_true = _one_hot(rng.integers(0, num_classes - 1, num_rows).tolist(), num_classes)
        probs /= probs.sum(axis=1, keepdims=True)
    names = [f"c{i}" for i in range(num_classes)]
    ours = compute_metrics(y_true, probs, names, multi_label)
    pred = (probs >= 0.5).astype(int) if multi_label else np.eye(num_classes, dtype=int)[probs.argmax(1)]
    y_t, y_p = (y_true, pred) if multi_label else (y_true.argmax(1), pred.argmax(1))
    labels = list(range(num_classes))
    for average in ("macro", "micro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_t, y_p, labels=labels, average=average, zero_division=0
        )
        assert ours[f"{average}_f1"] == pytest.approx(f1, abs=1e-12)
        if average == "macro":
            assert ours["macro_precision"] == pytest.approx(precision, abs=1e-12)
            assert ours["macro_recall"] == pytest.approx(recall, abs=1e-12)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_t, y_p, labels=labels, average=None, zero_division=0
    )
    for c, name in enumerate(names):
        row = ours["per_class"][name]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((precision[c], recall[c], f1[c]))
        assert row["support"] == support[c]
