import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mindscreen.config import ModelConfig
from mindscreen.modeling import build_model
from mindscreen.rundir import RUN_FILES, read_log
from mindscreen.training import loop, train
from mindscreen.training.batching import collate, encode_texts, train_batches
from mindscreen.training.optim import build_optimizer, cosine_with_warmup

from .conftest import tiny_config


def test_run_directory_holds_the_contract_files_and_no_checkpoints(trained_run: Path) -> None:
    assert sorted(p.name for p in trained_run.iterdir()) == sorted(RUN_FILES)
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert {"dev", "test", "dev_default_thresholds", "test_default_thresholds"} <= set(metrics)
    assert set(metrics["test"]["per_class"]) == set(
        json.loads((trained_run / "model.json").read_text())["labels"]
    )


def test_log_has_losses_metrics_and_the_train_val_gap(trained_run: Path) -> None:
    records = read_log(trained_run)
    assert len(records) == 2  # one per epoch
    for record in records:
        assert {"train_loss", "val_loss", "val_macro_f1", "train_macro_f1", "train_val_gap"} <= set(record)
        assert record["train_val_gap"] == pytest.approx(record["train_macro_f1"] - record["val_macro_f1"])


def test_loss_falls_when_overfitting_a_handful_of_examples(tiny_bert_dir: Path) -> None:
    torch.manual_seed(0)
    model, tokenizer = build_model(ModelConfig(encoder=str(tiny_bert_dir), dropout=0.0), ["a", "b"], False)
    texts = ["i feel calm and rested", "i cannot stop worrying", "a good day at work", "panic again tonight"]
    labels = np.eye(2, dtype=np.float32)[[0, 1, 0, 1]]
    batch = collate(encode_texts(tokenizer, texts, 32), np.arange(4), tokenizer.pad_token_id, labels)
    optimizer = build_optimizer(model, lr=1e-3, weight_decay=0.0)
    losses = []
    for _ in range(30):
        logits = model(batch["input_ids"], batch["attention_mask"])
        loss = torch.nn.functional.cross_entropy(logits, batch["labels"].argmax(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]


def test_resume_after_a_crash_ends_exactly_where_an_uninterrupted_run_does(
    tiny_bert_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sections = {"train": {"epochs": 2, "eval_every": 3, "batch_size": 64}}
    whole = train(tiny_config(tmp_path / "whole", tiny_bert_dir, **sections), progress=False)

    real_step = loop._forward_backward
    calls = {"n": 0}

    def crash_on_eighth_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 8:
            raise RuntimeError("simulated crash")
        return real_step(*args, **kwargs)

    config = tiny_config(tmp_path / "resumed", tiny_bert_dir, **sections)
    monkeypatch.setattr(loop, "_forward_backward", crash_on_eighth_batch)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, progress=False)
    assert (tmp_path / "resumed" / "checkpoints" / "last").is_dir()
    monkeypatch.setattr(loop, "_forward_backward", real_step)
    resumed = train(config, resume=True, progress=False)

    assert [r["step"] for r in read_log(resumed.run_dir)] == [r["step"] for r in read_log(whole.run_dir)]
    expected = load_file(str(whole.run_dir / "head.safetensors"))
    got = load_file(str(resumed.run_dir / "head.safetensors"))
    for name, tensor in expected.items():
        torch.testing.assert_close(got[name], tensor)
    assert resumed.metrics["test"]["macro_f1"] == pytest.approx(whole.metrics["test"]["macro_f1"])


def test_existing_run_directory_is_never_overwritten_silently(trained_run: Path, tiny_bert_dir: Path) -> None:
    before = (trained_run / "head.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match="--overwrite"):
        train(tiny_config(trained_run, tiny_bert_dir), progress=False)
    assert (trained_run / "head.safetensors").read_bytes() == before


def test_resume_without_a_checkpoint_is_explained(tmp_path: Path, tiny_bert_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(tiny_config(tmp_path / "new", tiny_bert_dir), resume=True, progress=False)


def test_length_grouped_batches_cover_every_example_once_with_similar_lengths() -> None:
    lengths = np.random.default_rng(0).integers(1, 200, size=1000)
    batches = train_batches(lengths, 16, np.random.default_rng(1), group_by_length=True)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    random_spread = np.mean(
        [np.ptp(lengths[b]) for b in train_batches(lengths, 16, np.random.default_rng(1), False)]
    )
    assert spread < random_spread / 4


def test_schedule_warms_up_linearly_then_decays_to_zero() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = cosine_with_warmup(optimizer, warmup_steps=4, total_steps=20)
    rates = []
    for _ in range(20):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert rates[:4] == sorted(rates[:4]) and rates[4] == pytest.approx(1.0)
    assert rates[4:] == sorted(rates[4:], reverse=True) and scheduler.get_last_lr()[0] == pytest.approx(0.0)


def test_no_weight_decay_on_biases_and_layernorm(tiny_bert_dir: Path) -> None:
    model, _ = build_model(ModelConfig(encoder=str(tiny_bert_dir)), ["a", "b"], False)
    decay, no_decay = build_optimizer(model, lr=1e-3, weight_decay=0.1).param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(p.ndim >= 2 and "norm" not in names[id(p)].lower() for p in decay["params"])
    assert any("LayerNorm" in names[id(p)] for p in no_decay["params"]) and no_decay["weight_decay"] == 0.0


def test_saved_predictions_reproduce_the_reported_test_metrics(trained_run: Path) -> None:
    from mindscreen.inference import to_probs
    from mindscreen.metrics import compute_metrics
    from mindscreen.rundir import read_predictions, read_thresholds

    labels = json.loads((trained_run / "model.json").read_text())["labels"]
    saved = read_predictions(trained_run, "test")
    assert saved is not None
    logits, truth = saved
    probs = to_probs(logits, multi_label=True)
    metrics = compute_metrics(truth, probs, labels, True, read_thresholds(trained_run, labels))
    reported = json.loads((trained_run / "metrics.json").read_text())["test"]
    assert metrics["macro_f1"] == pytest.approx(reported["macro_f1"])
