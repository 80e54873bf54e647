import pytest
import torch

from mindscreen.pooling import POOLER_NAMES, build_pooler


@pytest.mark.parametrize("name", POOLER_NAMES)
def test_padding_does_not_change_the_pooled_vector(name: str) -> None:
    torch.manual_seed(0)
    pooler = build_pooler(name, 8).eval()
    hidden = torch.randn(1, 5, 8)
    padded = torch.cat([hidden, torch.randn(1, 3, 8) * 100], dim=1)  # garbage in the padding
    mask = torch.ones(1, 5, dtype=torch.long)
    padded_mask = torch.cat([mask, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    torch.testing.assert_close(pooler(hidden, mask), pooler(padded, padded_mask))


@pytest.mark.parametrize("name", POOLER_NAMES)
def test_output_width_matches_output_size(name: str) -> None:
    pooler = build_pooler(name, 8)
    out = pooler(torch.randn(3, 4, 8), torch.ones(3, 4, dtype=torch.long))
    assert out.shape == (3, pooler.output_size)


def test_mean_pooling_averages_only_real_tokens() -> None:
    hidden = torch.tensor([[[1.0], [3.0], [100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert build_pooler("mean", 1)(hidden, mask).item() == pytest.approx(2.0)


def test_max_pooling_ignores_padding_even_when_it_is_larger() -> None:
    hidden = torch.tensor([[[-1.0], [-2.0], [50.0]]])
    assert build_pooler("max", 1)(hidden, torch.tensor([[1, 1, 0]])).item() == -1.0


def test_attention_pooling_learns_to_attend_to_the_token_that_matters() -> None:
    # Each text has one marked token (feature 0 = 3) at a random place among noise; the target is that
    # token's state. Mean pooling cannot reach it; attention pooling must learn to weigh the mark.
    torch.manual_seed(0)
    batch, tokens, width = 64, 6, 8
    hidden = torch.randn(batch, tokens, width)
    hidden[..., 0] = 0.0
    marked = torch.randint(0, tokens, (batch,))
    hidden[torch.arange(batch), marked, 0] = 3.0
    target = hidden[torch.arange(batch), marked]  # (B, H)
    mask = torch.ones(batch, tokens, dtype=torch.long)
    pooler = build_pooler("attention", width)
    optimizer = torch.optim.Adam(pooler.parameters(), lr=0.05)

    def loss() -> torch.Tensor:
        return torch.nn.functional.mse_loss(pooler(hidden, mask), target)

    with torch.no_grad():
        before = float(loss())
    for _ in range(150):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()

    with torch.no_grad():
        assert float(loss()) < 0.05 * before
    with torch.no_grad():
        weights = torch.softmax(pooler.scorer(hidden).squeeze(-1), dim=-1)  # (B, T)
    assert float(weights[torch.arange(batch), marked].mean()) > 0.9


def test_unknown_pooling_names_the_choices() -> None:
    with pytest.raises(ValueError, match="mean_max"):
        build_pooler("median", 8)
