import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mindscreen.config import ModelConfig
from mindscreen.modeling import build_model
from mindscreen.training.ema import EMA
from mindscreen.training.oom import OOM_ERRORS, micro_batch_size, next_split, split_batch
from mindscreen.training.optim import build_optimizer, cosine_with_warmup, layer_depths


def _lr_by_parameter(optimizer: torch.optim.Optimizer, model: nn.Module) -> dict[str, float]:
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: group["lr"] for group in optimizer.param_groups for p in group["params"]}


@pytest.mark.parametrize("encoder", ["tiny_bert_dir", "tiny_roberta_dir"])
def test_layer_decay_gives_each_encoder_layer_lr_times_decay_to_its_distance_from_the_top(
    encoder: str, request: pytest.FixtureRequest
) -> None:
    model, _ = build_model(ModelConfig(encoder=str(request.getfixturevalue(encoder))), ["a", "b"], False)
    optimizer = build_optimizer(model, lr=1e-3, weight_decay=0.01, layer_decay=0.5, head_lr=2e-3)
    lrs = _lr_by_parameter(optimizer, model)
    assert lrs["encoder.embeddings.word_embeddings.weight"] == pytest.approx(1e-3 * 0.5**2)
    assert lrs["encoder.encoder.layer.0.attention.self.query.weight"] == pytest.approx(1e-3 * 0.5)
    assert lrs["encoder.encoder.layer.1.output.dense.weight"] == pytest.approx(1e-3)
    assert {lr for name, lr in lrs.items() if not name.startswith("encoder.")} == {2e-3}
    assert len(lrs) == sum(1 for p in model.parameters() if p.requires_grad)


def test_layer_decay_keeps_biases_and_norms_free_of_weight_decay(tiny_bert_dir: Path) -> None:
    model, _ = build_model(ModelConfig(encoder=str(tiny_bert_dir)), ["a", "b"], False)
    optimizer = build_optimizer(model, lr=1e-3, weight_decay=0.1, layer_decay=0.8)
    names = {id(p): n for n, p in model.named_parameters()}
    for group in optimizer.param_groups:
        for param in group["params"]:
            plain = param.ndim < 2 or "norm" in names[id(param)].lower()
            assert group["weight_decay"] == (0.0 if plain else 0.1)


def test_layers_named_layers_dot_n_are_found_and_a_model_without_layers_falls_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Stack(nn.Module):
        def __init__(self, layer_name: str) -> None:
            super().__init__()
            self.encoder = nn.Module()
            self.encoder.embed_tokens = nn.Embedding(10, 4)
            setattr(self.encoder, layer_name, nn.ModuleList(nn.Linear(4, 4) for _ in range(3)))
            self.head = nn.Linear(4, 2)

    depths, count = layer_depths(Stack("layers"))
    assert (
        count == 3 and depths["encoder.layers.2.weight"] == 3 and depths["encoder.embed_tokens.weight"] == 0
    )
    flat = Stack("blocks")
    with caplog.at_level(logging.WARNING):
        optimizer = build_optimizer(flat, lr=1e-3, weight_decay=0.0, layer_decay=0.5)
    assert "no 'layer.N.' parameters" in caplog.text
    assert set(_lr_by_parameter(optimizer, flat).values()) == {1e-3}


def test_schedule_moves_every_group_relative_to_its_own_peak(tiny_bert_dir: Path) -> None:
    model, _ = build_model(ModelConfig(encoder=str(tiny_bert_dir)), ["a", "b"], False)
    optimizer = build_optimizer(model, lr=1e-3, weight_decay=0.0, layer_decay=0.5)
    peaks = [group["lr"] for group in optimizer.param_groups]
    scheduler = cosine_with_warmup(optimizer, warmup_steps=2, total_steps=10)
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    ratios = [group["lr"] / peak for group, peak in zip(optimizer.param_groups, peaks, strict=True)]
    assert max(ratios) == pytest.approx(min(ratios)) and 0 < ratios[0] < 1


def test_ema_follows_the_warmed_up_decay_and_swaps_weights_in_and_out() -> None:
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model, step=0)  # warm-up decay min(0.9, 1/10) = 0.1
    torch.testing.assert_close(ema.shadow["weight"], torch.full((1, 2), 0.9))
    assert ema.decay_at(1000) == 0.9
    with ema.applied(model):
        torch.testing.assert_close(model.weight.detach(), torch.full((1, 2), 0.9))
    torch.testing.assert_close(model.weight.detach(), torch.full((1, 2), 1.0))
    other = EMA(model, decay=0.9)
    other.load_state_dict(ema.state_dict())
    torch.testing.assert_close(other.shadow["weight"], ema.shadow["weight"])


def test_out_of_memory_splitting_halves_the_micro_batch_until_one_text() -> None:
    assert torch.OutOfMemoryError in OOM_ERRORS and torch.cuda.OutOfMemoryError in OOM_ERRORS
    indices = np.arange(13)
    parts = split_batch(indices, 4)
    assert [len(p) for p in parts] == [4, 3, 3, 3] and np.array_equal(np.concatenate(parts), indices)
    assert [micro_batch_size(32, s) for s in (1, 2, 4)] == [32, 16, 8]
    assert next_split(32, 2) == 4
    with pytest.raises(RuntimeError, match="model.max_length"):
        next_split(32, 32)


def test_adamw_on_cpu_updates_all_parameters_at_once_and_matches_the_per_tensor_loop() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    twin = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    twin.load_state_dict(model.state_dict())
    ours = build_optimizer(model, 1e-2, 0.01, None, None)
    assert all(group["foreach"] for group in ours.param_groups)  # no Python loop over tensors
    reference = torch.optim.AdamW(
        [
            {"params": [twin[0].weight, twin[2].weight], "weight_decay": 0.01},
            {"params": [twin[0].bias, twin[1].weight, twin[1].bias, twin[2].bias], "weight_decay": 0.0},
        ],
        lr=1e-2,
        foreach=False,
    )
    x = torch.randn(16, 4)
    for net, optimizer in ((model, ours), (twin, reference)):
        for _ in range(3):
            net(x).square().mean().backward()
            optimizer.step()
            optimizer.zero_grad()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(a, b)
