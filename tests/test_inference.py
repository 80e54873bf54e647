"""Batched prediction: input order kept, and recovery from CUDA out-of-memory by halving the batch.

A real CUDA out-of-memory cannot happen on the CPU-only CI machine, so a wrapper around a tiny model
raises torch.OutOfMemoryError, exactly what PyTorch raises when CUDA allocation fails, whenever a
batch holds more texts than it allows.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from mindscreen.config import ModelConfig
from mindscreen.data import resolve_data_dir
from mindscreen.inference import encode_texts, forward, predict_logits
from mindscreen.modeling import Classifier, build_model

LABELS = ["neutral", "stress", "anxiety"]


class OutOfMemoryAbove(torch.nn.Module):
    """``model``, except that a batch of more than ``limit`` texts runs out of (simulated) GPU memory."""

    def __init__(self, model: Classifier, limit: int) -> None:
        super().__init__()
        self.model, self.spec, self.limit = model, model.spec, limit
        self.sizes: list[int] = []

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        self.sizes.append(len(input_ids))
        if len(input_ids) > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.model(input_ids, attention_mask)


@pytest.fixture(scope="module")
def model_and_ids(tiny_bert_dir: Path) -> tuple[Classifier, list[list[int]], int, list[str]]:
    torch.manual_seed(0)
    model, tokenizer = build_model(ModelConfig(encoder=str(tiny_bert_dir), max_length=48), LABELS, False)
    path = resolve_data_dir("demo") / "dev.jsonl"
    texts = [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()][:37]
    return model, encode_texts(tokenizer, texts, 48), tokenizer.pad_token_id, texts


def test_logits_come_back_in_input_order_whatever_the_batch_size(model_and_ids) -> None:
    model, ids, pad_id, _ = model_and_ids
    one_at_a_time = np.concatenate([predict_logits(model, [row], pad_id, 1) for row in ids])

    batched = predict_logits(model, ids, pad_id, 16)

    np.testing.assert_allclose(batched, one_at_a_time, atol=1e-5)
    assert predict_logits(model, [], pad_id, 16).shape == (0, len(LABELS))


def test_out_of_memory_halves_the_batch_and_gives_the_logits_of_a_pass_without_it(
    model_and_ids, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    model, ids, pad_id, texts = model_and_ids
    expected = predict_logits(model, ids, pad_id, 16)
    freed: list[torch.device] = []
    monkeypatch.setattr(forward, "free_memory", freed.append)
    wrapper = OutOfMemoryAbove(model, limit=5)

    with caplog.at_level(logging.WARNING, logger="mindscreen.inference"):
        got = predict_logits(wrapper, ids, pad_id, 16)  # type: ignore[arg-type]

    # Every batch that ran held 4 texts, so the pass equals one run at 4 exactly, and the pass at 16
    # up to float rounding of the batch shape.
    np.testing.assert_array_equal(got, predict_logits(model, ids, pad_id, 4))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2 and len(freed) == 2  # 16 -> 8 -> 4: one warning per halving
    assert "batch size 16 -> 8" in messages[0] and "batch size 8 -> 4" in messages[1]
    assert all("eval_batch_size" in message for message in messages)
    assert wrapper.sizes[:3] == [16, 8, 4] and max(wrapper.sizes[3:]) <= 4  # never back up
    assert sum(wrapper.sizes[2:]) == len(ids)  # every text predicted exactly once after the halvings
    assert not any(text[:20] in caplog.text for text in texts)


def test_out_of_memory_on_a_single_text_raises_an_error_that_names_the_batch_settings(
    model_and_ids, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    model, ids, pad_id, _ = model_and_ids
    monkeypatch.setattr(forward, "free_memory", lambda device: None)
    wrapper = OutOfMemoryAbove(model, limit=0).train()

    with (
        caplog.at_level(logging.WARNING, logger="mindscreen.inference"),
        pytest.raises(RuntimeError, match=r"single text.*train\.eval_batch_size.*predictor batch_size"),
    ):
        predict_logits(wrapper, ids, pad_id, 4)  # type: ignore[arg-type]

    assert wrapper.sizes == [4, 2, 1]
    assert len(caplog.records) == 2  # 4 -> 2 -> 1, then the error
    assert wrapper.training  # the caller's mode is restored even on failure
