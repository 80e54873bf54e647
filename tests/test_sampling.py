import numpy as np
import pytest

from mindscreen.sampling import build_sample_weights, sample_epoch
from mindscreen.training.batching import train_batches


def _multi_class(counts: list[int]) -> np.ndarray:
    return np.eye(len(counts), dtype=np.float32)[np.repeat(np.arange(len(counts)), counts)]


def test_full_balancing_gives_every_class_the_same_share() -> None:
    labels = _multi_class([800, 150, 50])
    probs = build_sample_weights(labels, power=1.0)
    shares = labels.T @ probs
    np.testing.assert_allclose(shares, [1 / 3] * 3)
    assert probs.sum() == pytest.approx(1.0)


def test_square_root_balancing_gives_shares_proportional_to_the_root_of_class_size() -> None:
    counts = [900, 100, 25]
    shares = _multi_class(counts).T @ build_sample_weights(_multi_class(counts), power=0.5)
    expected = np.sqrt(counts) / np.sqrt(counts).sum()
    np.testing.assert_allclose(shares, expected)


def test_power_zero_draws_every_example_equally() -> None:
    probs = build_sample_weights(_multi_class([10, 3, 1]), power=0.0)
    np.testing.assert_allclose(probs, 1 / 14)


def test_multi_label_rows_carry_their_rarest_label_or_the_mean_and_empty_rows_count_as_a_class() -> None:
    labels = np.array([[1, 0], [1, 0], [1, 0], [1, 1], [0, 0]], dtype=np.float32)  # counts 4 and 1
    rarest = build_sample_weights(labels, power=1.0, multi_label=True)
    mean = build_sample_weights(labels, power=1.0, multi_label=True, reduce="mean")
    raw_rarest = np.array([1 / 4, 1 / 4, 1 / 4, 1.0, 1.0])
    raw_mean = np.array([1 / 4, 1 / 4, 1 / 4, (1 / 4 + 1) / 2, 1.0])
    np.testing.assert_allclose(rarest, raw_rarest / raw_rarest.sum())
    np.testing.assert_allclose(mean, raw_mean / raw_mean.sum())


def test_drawing_is_deterministic_per_epoch_generator_and_oversamples_the_rare_class() -> None:
    labels = _multi_class([950, 50])
    probs = build_sample_weights(labels, power=1.0)
    first = sample_epoch(probs, np.random.default_rng([42, 3]))
    again = sample_epoch(probs, np.random.default_rng([42, 3]))
    other_epoch = sample_epoch(probs, np.random.default_rng([42, 4]))
    assert np.array_equal(first, again) and not np.array_equal(first, other_epoch)
    assert len(first) == 1000
    assert 0.4 < labels[first, 1].mean() < 0.6  # the 5% class now fills about half the epoch


def test_drawn_indices_are_length_grouped_into_batches_covering_exactly_the_draw() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 100, size=500)
    drawn = sample_epoch(build_sample_weights(_multi_class([400, 100]), power=1.0), rng)
    batches = train_batches(lengths, 16, rng, group_by_length=True, indices=drawn)
    assert sorted(np.concatenate(batches).tolist()) == sorted(drawn.tolist())


def test_a_multi_class_row_without_a_label_is_refused() -> None:
    with pytest.raises(ValueError, match="carry no label"):
        build_sample_weights(np.array([[1, 0], [0, 0]]), multi_label=False)
