from pathlib import Path

import pytest
import torch

from mindscreen.config import ModelConfig
from mindscreen.inference import collate, encode_texts
from mindscreen.modeling import build_model, load_model, save_model

LABELS = ["neutral", "stress", "anxiety"]
TEXTS = ["i feel fine today", "work is piling up and i cannot sleep at all this week", "ok"]


def _logits(model, tokenizer, texts: list[str]) -> torch.Tensor:
    ids = encode_texts(tokenizer, texts, 48)
    batch = collate(ids, list(range(len(ids))), tokenizer.pad_token_id)
    with torch.no_grad():
        return model(batch["input_ids"], batch["attention_mask"])


@pytest.fixture(params=["bert", "roberta"])
def encoder_dir(request, tiny_bert_dir: Path, tiny_roberta_dir: Path) -> Path:
    return tiny_bert_dir if request.param == "bert" else tiny_roberta_dir


@pytest.mark.parametrize("pooling", ["cls", "mean_max", "attention"])
def test_save_then_load_gives_equal_logits(encoder_dir: Path, pooling: str, tmp_path: Path) -> None:
    cfg = ModelConfig(encoder=str(encoder_dir), pooling=pooling, head_blocks=2, max_length=48)
    model, tokenizer = build_model(cfg, LABELS, multi_label=True)
    model.eval()
    save_model(model, tokenizer, tmp_path)
    loaded, loaded_tokenizer = load_model(tmp_path)
    torch.testing.assert_close(_logits(model, tokenizer, TEXTS), _logits(loaded, loaded_tokenizer, TEXTS))
    assert loaded.spec == model.spec


@pytest.mark.parametrize("pooling", ["mean", "max", "attention"])
def test_batch_padding_does_not_change_a_texts_logits(encoder_dir: Path, pooling: str) -> None:
    model, tokenizer = build_model(ModelConfig(encoder=str(encoder_dir), pooling=pooling), LABELS, False)
    model.eval()
    alone = _logits(model, tokenizer, [TEXTS[2]])
    in_batch = _logits(model, tokenizer, TEXTS)[2:3]  # padded to the longest text
    torch.testing.assert_close(alone, in_batch, atol=1e-5, rtol=1e-4)


def test_head_has_residual_blocks_layernorm_and_one_output_per_label(tiny_bert_dir: Path) -> None:
    model, _ = build_model(ModelConfig(encoder=str(tiny_bert_dir), head_blocks=2), LABELS, False)
    assert len(model.head.blocks) == 2
    assert isinstance(model.head.blocks[0].norm, torch.nn.LayerNorm)
    assert model.head.out.out_features == len(LABELS)


def test_max_length_is_capped_by_the_tokenizer(tiny_bert_dir: Path) -> None:
    model, _ = build_model(ModelConfig(encoder=str(tiny_bert_dir), max_length=10_000), LABELS, False)
    assert model.spec.max_length == 128


def test_missing_encoder_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="local folder"):
        build_model(ModelConfig(encoder=str(tmp_path / "nowhere")), LABELS, False)


def test_saving_and_loading_show_no_transformers_progress_bars_and_restore_the_setting(
    tiny_bert_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()  # as in a user's process (the test session turns them off)
    try:
        model, tokenizer = build_model(ModelConfig(encoder=str(tiny_bert_dir)), ["a", "b"], False)
        save_model(model, tokenizer, tmp_path / "model")
        load_model(tmp_path / "model")
        assert hf_logging.is_progress_bar_enabled()
    finally:
        hf_logging.disable_progress_bar()
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "Writing model shards" not in err
