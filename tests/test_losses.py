import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mindscreen.config import TrainConfig
from mindscreen.losses import AsymmetricLoss, FocalLoss, build_class_weights, build_loss


def test_auto_picks_bce_for_multi_label_and_cross_entropy_otherwise() -> None:
    logits = torch.randn(4, 3)
    onehot = F.one_hot(torch.tensor([0, 2, 1, 2]), 3).float()
    ce = build_loss("auto", multi_label=False)(logits, onehot)
    assert ce.item() == pytest.approx(F.cross_entropy(logits, onehot.argmax(-1)).item())
    bce = build_loss("auto", multi_label=True)(logits, onehot)
    assert bce.item() == pytest.approx(F.binary_cross_entropy_with_logits(logits, onehot).item())


def test_cross_entropy_on_multi_label_data_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="train.loss=bce"):
        build_loss("cross_entropy", multi_label=True)


def _data(multi_label: bool, n: int = 16, c: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=generator) * 3
    if multi_label:
        return logits, (torch.rand(n, c, generator=generator) < 0.3).float()
    return logits, F.one_hot(torch.randint(0, c, (n,), generator=generator), c).float()


def _config(**values: object) -> TrainConfig:
    return TrainConfig.model_validate(values)


def test_focal_loss_with_gamma_zero_is_exactly_cross_entropy_and_bce() -> None:
    logits, onehot = _data(multi_label=False)
    focal = build_loss("focal", False, _config(focal_gamma=0.0))(logits, onehot)
    torch.testing.assert_close(focal, F.cross_entropy(logits, onehot.argmax(-1)))
    logits, multi = _data(multi_label=True)
    focal = build_loss("focal", True, _config(focal_gamma=0.0))(logits, multi)
    torch.testing.assert_close(focal, F.binary_cross_entropy_with_logits(logits, multi))


def test_focal_loss_never_exceeds_cross_entropy_and_shrinks_easy_examples_most() -> None:
    logits, onehot = _data(multi_label=False, n=64)
    focal = FocalLoss(gamma=2.0)
    per_example_focal = torch.stack([focal(logits[i : i + 1], onehot[i : i + 1]) for i in range(64)])
    per_example_ce = F.cross_entropy(logits, onehot.argmax(-1), reduction="none")
    assert torch.all(per_example_focal <= per_example_ce + 1e-6)
    ratio = per_example_focal / per_example_ce
    easiest, hardest = per_example_ce.argmin(), per_example_ce.argmax()
    assert ratio[easiest] < ratio[hardest]


def test_focal_alpha_per_class_weighs_each_class_term() -> None:
    logits, onehot = _data(multi_label=False)
    alpha = [0.1, 0.2, 0.3, 0.4, 0.5]
    got = FocalLoss(gamma=0.0, alpha=alpha)(logits, onehot)
    expected = F.cross_entropy(logits, onehot.argmax(-1), weight=torch.tensor(alpha), reduction="sum") / 16
    torch.testing.assert_close(got, expected)


def test_focal_alpha_of_the_wrong_length_is_explained() -> None:
    labels = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    with pytest.raises(ValueError, match="one alpha per label"):
        build_loss("focal", False, _config(focal_alpha=[0.5, 0.5]), labels)
    with pytest.raises(ValueError, match="one alpha per class"):
        FocalLoss(alpha=0.25, multi_label=False)


def test_asymmetric_loss_without_focusing_or_clip_is_exactly_bce() -> None:
    logits, multi = _data(multi_label=True)
    loss = AsymmetricLoss(gamma_pos=0.0, gamma_neg=0.0, clip=0.0)(logits, multi)
    torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(logits, multi))


def test_asymmetric_clip_discards_easy_negatives() -> None:
    logits = torch.tensor([[-5.0, 0.0]], requires_grad=True)  # p = 0.0067 (easy) and 0.5
    AsymmetricLoss(gamma_pos=0.0, gamma_neg=0.0, clip=0.05)(logits, torch.zeros(1, 2)).backward()
    assert logits.grad is not None
    assert logits.grad[0, 0] == 0 and logits.grad[0, 1] > 0


def test_asymmetric_loss_on_multi_class_data_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="train.loss=focal"):
        build_loss("asymmetric", multi_label=False)


def test_label_smoothing_matches_torch_for_multi_class_and_halves_toward_half_for_multi_label() -> None:
    logits, onehot = _data(multi_label=False)
    got = build_loss("cross_entropy", False, _config(label_smoothing=0.1))(logits, onehot)
    torch.testing.assert_close(got, F.cross_entropy(logits, onehot.argmax(-1), label_smoothing=0.1))
    logits, multi = _data(multi_label=True)
    got = build_loss("bce", True, _config(label_smoothing=0.2))(logits, multi)
    torch.testing.assert_close(got, F.binary_cross_entropy_with_logits(logits, multi * 0.8 + 0.1))


def test_inverse_class_weights_are_proportional_to_one_over_count_and_average_one() -> None:
    labels = np.eye(3, dtype=np.float32)[[0] * 8 + [1] * 4 + [2] * 2]
    weights = build_class_weights(labels, "inverse")
    assert weights is not None and weights.negative is None
    counts = labels.sum(0)
    assert np.allclose(weights.positive * counts, weights.positive[0] * counts[0])
    assert (weights.positive * counts).sum() / labels.shape[0] == pytest.approx(1.0)


def test_effective_number_weights_lie_between_uniform_and_inverse() -> None:
    labels = np.eye(2, dtype=np.float32)[[0] * 900 + [1] * 100]
    inverse = build_class_weights(labels, "inverse")
    effective = build_class_weights(labels, "effective", beta=0.99)
    nearly_inverse = build_class_weights(labels, "effective", beta=0.9999999)
    assert inverse is not None and effective is not None and nearly_inverse is not None
    spread = [w.positive[1] / w.positive[0] for w in (effective, inverse)]
    assert 1.0 < spread[0] < spread[1]
    np.testing.assert_allclose(nearly_inverse.positive, inverse.positive, rtol=1e-3)


def test_multi_label_class_weights_balance_each_label_and_keep_its_total() -> None:
    labels = (np.random.default_rng(0).random((200, 4)) < [0.5, 0.2, 0.05, 0.01]).astype(np.float32)
    weights = build_class_weights(labels, "inverse", multi_label=True)
    assert weights is not None and weights.negative is not None
    positives = labels.sum(0)
    negatives = 200 - positives
    np.testing.assert_allclose(weights.positive * positives, weights.negative * negatives)
    np.testing.assert_allclose(weights.positive * positives + weights.negative * negatives, 200.0)


def test_weighted_cross_entropy_sums_class_weighted_terms_over_the_batch() -> None:
    logits, onehot = _data(multi_label=False)
    labels = onehot.numpy()
    loss = build_loss("cross_entropy", False, _config(class_weights="inverse"), labels)
    weights = build_class_weights(labels, "inverse")
    assert weights is not None
    expected = F.cross_entropy(
        logits, onehot.argmax(-1), weight=torch.tensor(weights.positive, dtype=torch.float32), reduction="sum"
    )
    torch.testing.assert_close(loss(logits, onehot), expected / 16)


@pytest.mark.parametrize(
    ("name", "multi_label"),
    [("cross_entropy", False), ("bce", False), ("bce", True), ("focal", False), ("focal", True)]
    + [("asymmetric", True)],
)
def test_every_loss_stays_finite_with_gradients_on_extreme_logits(name: str, multi_label: bool) -> None:
    logits, targets = _data(multi_label)
    logits = (logits * 30).requires_grad_()
    config = _config(class_weights="effective", label_smoothing=0.1, focal_gamma=0.5, asl_gamma_neg=0.5)
    loss = build_loss(name, multi_label, config, targets.numpy())(logits, targets)
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert logits.grad is not None and torch.all(torch.isfinite(logits.grad))
