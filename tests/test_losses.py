import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mindscreen.config import load_config
from mindscreen.losses import LOSSES, LossConfig, build_class_weights, build_loss


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


def _config(name: str = "auto", **values: object) -> LossConfig:
    """A ``train.loss`` section: ``focal={"gamma": 0}`` sets a loss's own parameters."""
    return LossConfig.model_validate({"name": name, **values})


def test_focal_loss_with_gamma_zero_is_exactly_cross_entropy_and_bce() -> None:
    logits, onehot = _data(multi_label=False)
    focal = build_loss(_config("focal", focal={"gamma": 0.0}), False)(logits, onehot)
    torch.testing.assert_close(focal, F.cross_entropy(logits, onehot.argmax(-1)))
    logits, multi = _data(multi_label=True)
    focal = build_loss(_config("focal", focal={"gamma": 0.0}), True)(logits, multi)
    torch.testing.assert_close(focal, F.binary_cross_entropy_with_logits(logits, multi))


def test_focal_loss_never_exceeds_cross_entropy_and_shrinks_easy_examples_most() -> None:
    logits, onehot = _data(multi_label=False, n=64)
    focal = build_loss(_config("focal", focal={"gamma": 2.0}), False)
    per_example_focal = torch.stack([focal(logits[i : i + 1], onehot[i : i + 1]) for i in range(64)])
    per_example_ce = F.cross_entropy(logits, onehot.argmax(-1), reduction="none")
    assert torch.all(per_example_focal <= per_example_ce + 1e-6)
    ratio = per_example_focal / per_example_ce
    easiest, hardest = per_example_ce.argmin(), per_example_ce.argmax()
    assert ratio[easiest] < ratio[hardest]


def test_focal_alpha_per_class_weighs_each_class_term() -> None:
    logits, onehot = _data(multi_label=False)
    alpha = [0.1, 0.2, 0.3, 0.4, 0.5]
    got = build_loss(_config("focal", focal={"gamma": 0.0, "alpha": alpha}), False)(logits, onehot)
    expected = F.cross_entropy(logits, onehot.argmax(-1), weight=torch.tensor(alpha), reduction="sum") / 16
    torch.testing.assert_close(got, expected)


def test_focal_alpha_of_the_wrong_length_is_explained() -> None:
    labels = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    with pytest.raises(ValueError, match="one alpha per label"):
        build_loss(_config("focal", focal={"alpha": [0.5, 0.5]}), False, labels)
    with pytest.raises(ValueError, match="one alpha per class"):
        build_loss(_config("focal", focal={"alpha": 0.25}), False, labels)


def test_asymmetric_loss_without_focusing_or_clip_is_exactly_bce() -> None:
    logits, multi = _data(multi_label=True)
    asymmetric = {"gamma_pos": 0.0, "gamma_neg": 0.0, "clip": 0.0}
    loss = build_loss(_config("asymmetric", asymmetric=asymmetric), True)(logits, multi)
    torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(logits, multi))


def test_asymmetric_clip_discards_easy_negatives() -> None:
    logits = torch.tensor([[-5.0, 0.0]], requires_grad=True)  # p = 0.0067 (easy) and 0.5
    asymmetric = {"gamma_pos": 0.0, "gamma_neg": 0.0, "clip": 0.05}
    build_loss(_config("asymmetric", asymmetric=asymmetric), True)(logits, torch.zeros(1, 2)).backward()
    assert logits.grad is not None
    assert logits.grad[0, 0] == 0 and logits.grad[0, 1] > 0


def test_asymmetric_loss_on_multi_class_data_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="train.loss=focal"):
        build_loss("asymmetric", multi_label=False)


def test_label_smoothing_matches_torch_for_multi_class_and_halves_toward_half_for_multi_label() -> None:
    logits, onehot = _data(multi_label=False)
    got = build_loss(_config("cross_entropy", label_smoothing=0.1), False)(logits, onehot)
    torch.testing.assert_close(got, F.cross_entropy(logits, onehot.argmax(-1), label_smoothing=0.1))
    logits, multi = _data(multi_label=True)
    got = build_loss(_config("bce", label_smoothing=0.2), True)(logits, multi)
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
    loss = build_loss(_config("cross_entropy", class_weights="inverse"), False, labels)
    weights = build_class_weights(labels, "inverse")
    assert weights is not None
    expected = F.cross_entropy(
        logits, onehot.argmax(-1), weight=torch.tensor(weights.positive, dtype=torch.float32), reduction="sum"
    )
    torch.testing.assert_close(loss(logits, onehot), expected / 16)


LOSS_TASKS = [
    (name, multi_label)
    for name, definition in LOSSES.items()
    for multi_label in (False, True)
    if ("multi_label" if multi_label else "multi_class") in definition.tasks
]


@pytest.mark.parametrize(("name", "multi_label"), LOSS_TASKS)
def test_every_loss_stays_finite_with_gradients_on_extreme_logits(name: str, multi_label: bool) -> None:
    logits, targets = _data(multi_label)
    logits = (logits * 30).requires_grad_()
    config = _config(name, class_weights="effective", label_smoothing=0.1)
    loss = build_loss(config, multi_label, targets.numpy())(logits, targets)
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert logits.grad is not None and torch.all(torch.isfinite(logits.grad))


def test_the_config_section_lists_every_registered_loss_and_its_parameters() -> None:
    sections = {name for name, field in LossConfig.model_fields.items() if name in LOSSES}
    with_params = {name for name, definition in LOSSES.items() if definition.params.model_fields}
    assert sections == with_params == {"focal", "asymmetric"}
    for name in LOSSES:
        assert load_config(None, [f"train.loss={name}"]).train.loss.name == name


def test_old_flat_loss_keys_still_load_into_the_loss_section() -> None:
    config = load_config(None, ["train.loss=focal", "train.focal_gamma=1.5", "train.class_weights=inverse"])
    loss = config.train.loss
    assert (loss.name, loss.focal.gamma, loss.class_weights) == ("focal", 1.5, "inverse")
    from mindscreen.config import validate_config

    raw = {"train": {"loss": "asymmetric", "asl_clip": 0.1, "label_smoothing": 0.05}}
    loss = validate_config(raw).train.loss
    assert (loss.name, loss.asymmetric.clip, loss.label_smoothing) == ("asymmetric", 0.1, 0.05)


def test_naming_the_loss_keeps_the_settings_beside_it() -> None:
    loss = load_config(None, ["train.loss.label_smoothing=0.1", "train.loss=focal"]).train.loss
    assert (loss.name, loss.label_smoothing) == ("focal", 0.1)
