import pytest
import torch
from torch.nn import functional as F

from mindscreen.losses import build_loss


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
