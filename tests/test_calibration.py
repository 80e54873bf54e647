from pathlib import Path

import numpy as np
import pytest

from mindscreen.calibration import fit_temperature
from mindscreen.metrics import expected_calibration_error
from mindscreen.predictors.run import RunPredictor
from mindscreen.probabilities import apply_temperature, to_probabilities


def _over_confident(multi_label: bool, scale: float, n: int = 20000, c: int = 4, seed: int = 0):
    """Labels drawn from calibrated logits, returned with those logits multiplied by ``scale``."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, size=(n, c))
    probs = to_probabilities(logits.astype(np.float32), multi_label)
    if multi_label:
        labels = (rng.random((n, c)) < probs).astype(np.float32)
    else:
        drawn = (rng.random((n, 1)) > np.cumsum(probs, axis=1)).sum(axis=1).clip(max=c - 1)
        labels = np.eye(c, dtype=np.float32)[drawn]
    return (logits * scale).astype(np.float32), labels


@pytest.mark.parametrize("multi_label", [False, True])
def test_fitted_temperature_undoes_a_known_over_confidence(multi_label: bool) -> None:
    logits, labels = _over_confident(multi_label, scale=3.0)
    temperature = fit_temperature(logits, labels, multi_label)
    assert temperature.shape == (1,) and temperature[0] == pytest.approx(3.0, rel=0.1)
    before = expected_calibration_error(labels, to_probabilities(logits, multi_label), multi_label)
    after = expected_calibration_error(
        labels, to_probabilities(apply_temperature(logits, temperature), multi_label), multi_label
    )
    assert after < before / 2


def test_one_temperature_keeps_the_argmax_and_the_ranking_of_each_label() -> None:
    logits, labels = _over_confident(False, scale=2.0, n=500)
    scaled = apply_temperature(logits, fit_temperature(logits, labels, False))
    assert np.array_equal(scaled.argmax(1), logits.argmax(1))
    assert all(np.array_equal(np.argsort(scaled[:, c]), np.argsort(logits[:, c])) for c in range(4))


def test_per_class_temperatures_fit_each_label_and_a_label_without_positives_keeps_the_shared_one() -> None:
    logits, labels = _over_confident(True, scale=1.0, n=8000, c=3)
    logits = logits * np.array([1.0, 2.0, 4.0], dtype=np.float32)
    labels[:, 2] = 0.0  # no positives: its NLL would push T to a bound
    per_class = fit_temperature(logits, labels, True, "per_class")
    shared = fit_temperature(logits, labels, True, "temperature")
    assert per_class.shape == (3,)
    assert per_class[0] == pytest.approx(1.0, rel=0.1) and per_class[1] == pytest.approx(2.0, rel=0.1)
    assert per_class[2] == pytest.approx(shared[0])


def test_no_calibration_is_temperature_one() -> None:
    logits, labels = _over_confident(True, scale=3.0, n=100)
    assert fit_temperature(logits, labels, True, "none").tolist() == [1.0]


def test_mismatched_shapes_and_methods_are_explained() -> None:
    with pytest.raises(ValueError, match="same shape|one shape"):
        fit_temperature(np.zeros((3, 2)), np.zeros((3, 3)), True)
    with pytest.raises(ValueError, match="choose one of"):
        fit_temperature(np.zeros((3, 2)), np.zeros((3, 2)), True, "platt")  # type: ignore[arg-type]


def test_predictor_divides_logits_by_the_run_temperature(trained_run: Path) -> None:
    plain = RunPredictor.from_dir(trained_run)
    texts = ["i cannot sleep before exams", "a calm walk by the sea"]
    warmer = RunPredictor(plain.model, plain.tokenizer, plain.thresholds, temperature=np.array([2.0]))
    raw_logits = np.log(plain.predict_proba(texts)) - np.log1p(-plain.predict_proba(texts))
    expected = 1 / (1 + np.exp(-raw_logits / 2.0))
    np.testing.assert_allclose(warmer.predict_proba(texts), expected, atol=1e-5)
    assert plain.temperature.tolist() == [1.0]  # the default run is not calibrated
