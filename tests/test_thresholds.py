import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from mindscreen.thresholds import apply_thresholds, default_thresholds, fit_thresholds, fit_thresholds_checked


def _softmax_probs(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    logits = rng.normal(size=(n, c))
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def _one_hot(indices: np.ndarray, c: int) -> np.ndarray:
    return np.eye(c, dtype=int)[indices]


def _macro_f1(y_true: np.ndarray, pred: np.ndarray, multi_label: bool) -> float:
    if multi_label:
        return float(f1_score(y_true, pred, average="macro", zero_division=0))
    c = y_true.shape[1]
    return float(
        f1_score(y_true.argmax(1), pred.argmax(1), labels=list(range(c)), average="macro", zero_division=0)
    )


def test_default_thresholds_are_half_for_multi_label_and_one_over_c_for_multi_class() -> None:
    np.testing.assert_allclose(default_thresholds(4, multi_label=True), [0.5] * 4)
    np.testing.assert_allclose(default_thresholds(4, multi_label=False), [0.25] * 4)


def test_multi_class_default_thresholds_equal_argmax() -> None:
    probs = _softmax_probs(np.random.default_rng(0), 500, 6)
    pred = apply_thresholds(probs, default_thresholds(6, multi_label=False), multi_label=False)
    np.testing.assert_array_equal(pred, _one_hot(probs.argmax(1), 6))


def test_multi_class_gives_exactly_one_label_per_row() -> None:
    probs = _softmax_probs(np.random.default_rng(1), 300, 5)
    pred = apply_thresholds(probs, np.array([0.1, 0.3, 0.2, 0.05, 0.35]), multi_label=False)
    np.testing.assert_array_equal(pred.sum(axis=1), np.ones(300))


def test_binary_rule_equals_threshold_on_positive_probability() -> None:
    positive = np.random.default_rng(2).uniform(size=1000)
    probs = np.stack([1 - positive, positive], axis=1)
    for cut in (0.1, 0.3, 0.5, 0.8):
        pred = apply_thresholds(probs, np.array([1 - cut, cut]), multi_label=False)
        np.testing.assert_array_equal(pred[:, 1], (positive > cut).astype(int))


def test_multi_label_rows_get_no_label_when_all_below_threshold() -> None:
    probs = np.array([[0.1, 0.2, 0.3], [0.6, 0.2, 0.9]])
    pred = apply_thresholds(probs, np.full(3, 0.5), multi_label=True)
    np.testing.assert_array_equal(pred, [[0, 0, 0], [1, 0, 1]])


def test_multi_class_rejects_non_positive_thresholds() -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        apply_thresholds(np.full((2, 2), 0.5), np.array([0.0, 1.0]), multi_label=False)


def test_fitted_multi_label_threshold_recovers_under_confident_class() -> None:
    rng = np.random.default_rng(3)
    y_true = np.zeros((200, 2), dtype=int)
    y_true[:40, 0] = 1
    y_true[::2, 1] = 1
    probs = np.empty((200, 2))
    probs[:, 0] = np.where(y_true[:, 0] == 1, 0.3, 0.1) + rng.uniform(-0.02, 0.02, size=200)
    probs[:, 1] = np.where(y_true[:, 1] == 1, 0.9, 0.2)
    default_pred = apply_thresholds(probs, default_thresholds(2, True), multi_label=True)
    assert f1_score(y_true[:, 0], default_pred[:, 0], zero_division=0) == 0.0

    thresholds = fit_thresholds(y_true, probs, multi_label=True)
    fitted_pred = apply_thresholds(probs, thresholds, multi_label=True)
    assert f1_score(y_true[:, 0], fitted_pred[:, 0]) == 1.0
    assert 0.12 < thresholds[0] < 0.28  # inside the gap, away from both clusters


def test_multi_label_class_without_positives_keeps_half() -> None:
    y_true = np.array([[1, 0], [0, 0], [1, 0]])
    probs = np.array([[0.7, 0.9], [0.2, 0.1], [0.6, 0.3]])
    assert fit_thresholds(y_true, probs, multi_label=True)[1] == 0.5


def test_fitted_multi_class_thresholds_lift_underestimated_minority_class() -> None:
    rng = np.random.default_rng(4)
    labels = rng.choice(3, size=600, p=[0.6, 0.3, 0.1])
    logits = rng.normal(size=(600, 3)) + 2.0 * _one_hot(labels, 3)
    logits[:, 2] -= 2.0  # the model systematically under-estimates the rare class
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y_true = _one_hot(labels, 3)

    argmax_f1 = _macro_f1(y_true, apply_thresholds(probs, default_thresholds(3, False), False), False)
    thresholds = fit_thresholds(y_true, probs, multi_label=False)
    fitted_f1 = _macro_f1(y_true, apply_thresholds(probs, thresholds, False), False)
    assert fitted_f1 > argmax_f1 + 0.05
    assert thresholds[2] < thresholds[0]
    assert thresholds.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("multi_label", [True, False])
@pytest.mark.parametrize("seed", [5, 6, 7])
def test_fit_never_lowers_dev_macro_f1_versus_default(multi_label: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    if multi_label:
        y_true = (rng.uniform(size=(300, 5)) < [0.4, 0.2, 0.1, 0.05, 0.0]).astype(int)
        probs = np.clip(0.3 * y_true + rng.uniform(0, 0.7, size=(300, 5)), 0, 1)
    else:
        y_true = _one_hot(rng.choice(5, size=300, p=[0.5, 0.2, 0.15, 0.1, 0.05]), 5)
        probs = _softmax_probs(rng, 300, 5) * (1 + y_true)
        probs /= probs.sum(axis=1, keepdims=True)
    default = default_thresholds(5, multi_label)
    fitted = fit_thresholds(y_true, probs, multi_label)
    before = _macro_f1(y_true, apply_thresholds(probs, default, multi_label), multi_label)
    after = _macro_f1(y_true, apply_thresholds(probs, fitted, multi_label), multi_label)
    assert after >= before


@pytest.mark.parametrize("multi_label", [True, False])
def test_fit_is_deterministic(multi_label: bool) -> None:
    rng = np.random.default_rng(8)
    probs = _softmax_probs(rng, 200, 4)
    y_true = _one_hot(rng.integers(0, 4, size=200), 4)
    first = fit_thresholds(y_true, probs, multi_label)
    np.testing.assert_array_equal(first, fit_thresholds(y_true, probs, multi_label))


def test_fit_handles_single_class_dev_set() -> None:
    y_true = _one_hot(np.zeros(50, dtype=int), 3)
    probs = _softmax_probs(np.random.default_rng(9), 50, 3)
    for multi_label in (True, False):
        thresholds = fit_thresholds(y_true, probs, multi_label)
        assert thresholds.shape == (3,) and np.all(np.isfinite(thresholds))


@pytest.mark.parametrize("multi_label", [True, False])
def test_fit_runs_on_five_thousand_rows_and_twenty_eight_classes(multi_label: bool) -> None:
    rng = np.random.default_rng(10)
    probs = rng.uniform(size=(5000, 28))
    if multi_label:
        y_true = (rng.uniform(size=(5000, 28)) < 0.05).astype(int)
    else:
        probs /= probs.sum(axis=1, keepdims=True)
        y_true = _one_hot(rng.integers(0, 28, size=5000), 28)
    thresholds = fit_thresholds(y_true, probs, multi_label)
    assert thresholds.shape == (28,) and thresholds.dtype == np.float64


def test_fit_accepts_a_custom_grid() -> None:
    y_true = np.array([[1], [0], [1], [0]])
    probs = np.array([[0.35], [0.1], [0.4], [0.2]])
    assert fit_thresholds(y_true, probs, multi_label=True, grid=[0.3, 0.5]) == pytest.approx([0.3])


def test_mismatched_shapes_are_rejected_with_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(3, 3\)"):
        fit_thresholds(np.zeros((3, 2)), np.zeros((3, 3)), multi_label=True)


def test_decide_labels_names_the_labels_over_their_thresholds() -> None:
    from mindscreen.thresholds import decide_labels

    probs = np.array([[0.9, 0.2, 0.6], [0.1, 0.1, 0.1]])
    labels = decide_labels(probs, np.array([0.5, 0.5, 0.7]), ["a", "b", "c"], multi_label=True)
    assert labels == [["a"], []]


# Out-of-fold check (fit_thresholds_checked)


def _calibrated_multi_class(rng: np.random.Generator, n: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from the probabilities themselves, classes symmetric: argmax is already optimal."""
    probs = _softmax_probs(rng, n, c) ** 2
    probs /= probs.sum(axis=1, keepdims=True)
    labels = (rng.uniform(size=(n, 1)) > probs.cumsum(axis=1)).sum(axis=1)
    return _one_hot(np.minimum(labels, c - 1), c), probs


def _under_predicted_class_one(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Informative 4-class probabilities with class 1 scaled down so far that argmax never picks it."""
    y_true = _one_hot(rng.integers(0, 4, size=n), 4)
    probs = np.exp(rng.normal(size=(n, 4)) + 2.0 * y_true)
    others = np.delete(probs, 1, axis=1).max(axis=1)
    probs[:, 1] = np.minimum(0.2 * probs[:, 1], 0.99 * others)
    return y_true, probs / probs.sum(axis=1, keepdims=True)


def test_checked_fit_mostly_keeps_argmax_where_fitted_scales_only_chase_noise() -> None:
    fresh_y, fresh_probs = _calibrated_multi_class(np.random.default_rng(99), 20000, 9)
    argmax = default_thresholds(9, multi_label=False)
    kept, checked_f1, plain_f1 = 0, [], []
    for seed in range(20):
        y_true, probs = _calibrated_multi_class(np.random.default_rng(seed), 600, 9)
        plain = fit_thresholds(y_true, probs, multi_label=False)
        assert not np.allclose(plain, argmax)  # in sample, fitting always finds something
        thresholds, check = fit_thresholds_checked(y_true, probs, multi_label=False)
        if any(check.kept):
            kept += 1
        else:
            np.testing.assert_array_equal(thresholds, argmax)
            assert check.win_rate[0] < check.confidence  # out of fold, it did not win reliably
        checked_f1.append(_macro_f1(fresh_y, apply_thresholds(fresh_probs, thresholds, False), False))
        plain_f1.append(_macro_f1(fresh_y, apply_thresholds(fresh_probs, plain, False), False))
    assert kept <= 2  # a noise fit rarely wins 70% of bootstrap resamples out of fold
    assert np.mean(checked_f1) > np.mean(plain_f1)  # and on fresh rows the check loses less


def test_checked_fit_keeps_thresholds_that_fix_a_systematic_bias() -> None:
    y_true, probs = _under_predicted_class_one(np.random.default_rng(20), 500)
    assert not np.any(probs.argmax(axis=1) == 1)
    thresholds, check = fit_thresholds_checked(y_true, probs, multi_label=False)
    assert all(check.kept) and check.folds_used == [5] * 4
    np.testing.assert_array_equal(thresholds, fit_thresholds(y_true, probs, multi_label=False))
    assert np.mean(check.oof_f1_fitted) > np.mean(check.oof_f1_default)
    fresh_y, fresh_probs = _under_predicted_class_one(np.random.default_rng(21), 2000)
    argmax = default_thresholds(4, multi_label=False)
    fresh_default = _macro_f1(fresh_y, apply_thresholds(fresh_probs, argmax, False), False)
    assert _macro_f1(fresh_y, apply_thresholds(fresh_probs, thresholds, False), False) > fresh_default


def test_checked_multi_label_keeps_a_real_threshold_and_half_for_noise_classes() -> None:
    rng = np.random.default_rng(30)
    n = 600
    real = rng.uniform(size=n) < 0.2  # positives over 0.15, negatives under 0.25: best cut near 0.2
    real_probs = np.where(real, rng.uniform(0.15, 0.5, n), rng.uniform(0.0, 0.25, n))
    noise = rng.uniform(size=(n, 20)) < 0.3  # probabilities that say nothing about these labels
    y_true = np.column_stack([real, noise]).astype(int)
    probs = np.column_stack([real_probs, rng.uniform(0.5, 1.0, (n, 20))])
    thresholds, check = fit_thresholds_checked(y_true, probs, multi_label=True)
    assert check.kept[0] and 0.15 < thresholds[0] < 0.3
    assert check.oof_f1_fitted[0] > check.oof_f1_default[0]
    assert np.all(fit_thresholds(y_true, probs, multi_label=True)[1:] != 0.5)  # the plain fit moves
    assert np.all(thresholds[1:][~np.array(check.kept[1:])] == 0.5)
    assert sum(check.kept[1:]) <= 2  # noise classes keep 0.5: they rarely win 70% of resamples


def test_checked_fit_is_deterministic() -> None:
    y_true, probs = _under_predicted_class_one(np.random.default_rng(40), 300)
    for multi_label in (False, True):
        first = fit_thresholds_checked(y_true, probs, multi_label, seed=3)
        second = fit_thresholds_checked(y_true.copy(), probs.copy(), multi_label, seed=3)
        np.testing.assert_array_equal(first[0], second[0])
        assert first[1] == second[1]


def test_checked_fit_uses_fewer_folds_for_rare_labels_and_keeps_half_for_single_positives() -> None:
    y_true = np.zeros((40, 3), dtype=int)
    y_true[:20, 0], y_true[:3, 1], y_true[:1, 2] = 1, 1, 1
    probs = np.random.default_rng(50).uniform(0.0, 0.4, size=(40, 3)) + 0.3 * y_true
    thresholds, check = fit_thresholds_checked(y_true, probs, multi_label=True, folds=5)
    assert check.folds_used == [5, 3, 0]  # one fold per positive; one positive cannot be checked
    assert not check.kept[2] and thresholds[2] == 0.5 and np.isnan(check.oof_f1_fitted[2])
    assert len(check.notes) == 2


def test_checked_fit_falls_back_on_tiny_dev_sets_and_says_so() -> None:
    y_true, probs = _under_predicted_class_one(np.random.default_rng(60), 3)
    _, check = fit_thresholds_checked(y_true, probs, multi_label=False, folds=5)
    assert check.folds_used == [3] * 4 and "3 rows" in check.notes[0]
    thresholds, check = fit_thresholds_checked(y_true[:1], probs[:1], multi_label=False, folds=5)
    np.testing.assert_array_equal(thresholds, default_thresholds(4, multi_label=False))
    assert not any(check.kept) and check.folds_used == [0] * 4 and len(check.notes) == 2


def test_checked_fit_rejects_fewer_than_two_folds_and_so_does_the_config() -> None:
    from mindscreen.config import ConfigError, validate_config

    with pytest.raises(ValueError, match="at least 2, got 1"):
        fit_thresholds_checked(np.eye(2), np.eye(2), multi_label=False, folds=1)
    with pytest.raises(ConfigError, match=r"train\.threshold_folds"):
        validate_config({"train": {"threshold_folds": 1}})
    assert validate_config({"train": {"threshold_folds": None}}).train.threshold_folds is None


def test_check_report_is_keyed_by_label_and_json_ready() -> None:
    y_true, probs = _under_predicted_class_one(np.random.default_rng(70), 200)
    _, check = fit_thresholds_checked(y_true, probs, multi_label=False)
    summary = check.to_dict(["a", "b", "c", "d"])
    assert summary["decision"] == "all_or_nothing" and summary["kept"] == ["a", "b", "c", "d"]
    assert summary["oof_macro_f1"]["fitted"] == pytest.approx(np.mean(check.oof_f1_fitted))
    assert set(summary["classes"]["b"]) == {"folds", "oof_f1_fitted", "oof_f1_default", "win_rate"}
    assert summary["oof_macro_f1"]["win_rate"] == check.win_rate[1] > summary["confidence"]
    json.dumps(summary)
