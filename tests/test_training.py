import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mindscreen.config import ModelConfig
from mindscreen.data import resolve_data_dir
from mindscreen.inference import collate, encode_texts
from mindscreen.modeling import build_model
from mindscreen.rundir import RUN_FILES, read_log
from mindscreen.training import step, train
from mindscreen.training.batching import train_batches
from mindscreen.training.optim import build_optimizer, cosine_with_warmup

from .conftest import tiny_config


def test_run_directory_holds_the_contract_files_and_no_checkpoints(trained_run: Path) -> None:
    assert {p.name for p in trained_run.iterdir()} == {
        "config.yaml",
        "model.json",
        "encoder",
        "head.safetensors",
        "thresholds.json",
        "calibration.json",
        "metrics.json",
        "log.jsonl",
        "predictions",
        "profile.json",
        "README.md",
    }
    assert set(RUN_FILES) == {p.name for p in trained_run.iterdir()}
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

    real_step = step.forward_backward
    calls = {"n": 0}

    def crash_on_eighth_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 8:
            raise RuntimeError("simulated crash")
        return real_step(*args, **kwargs)

    config = tiny_config(tmp_path / "resumed", tiny_bert_dir, **sections)
    monkeypatch.setattr(step, "forward_backward", crash_on_eighth_batch)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, progress=False)
    assert (tmp_path / "resumed" / "checkpoints" / "last").is_dir()
    monkeypatch.setattr(step, "forward_backward", real_step)
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


def test_predicting_the_test_texts_again_reproduces_the_reported_test_metrics(trained_run: Path) -> None:
    from sklearn.metrics import f1_score

    from mindscreen.predictors import load_predictor

    rows = [json.loads(line) for line in (resolve_data_dir("demo") / "test.jsonl").read_text().splitlines()]
    predictor = load_predictor(trained_run)
    truth = np.array([[label in row["labels"] for label in predictor.labels] for row in rows], dtype=int)
    probs = predictor.predict_proba([row["text"] for row in rows])
    predicted = (probs >= predictor.thresholds).astype(int)  # multi-label: each label at its threshold

    reported = json.loads((trained_run / "metrics.json").read_text())["test"]
    assert f1_score(truth, predicted, average="macro", zero_division=0) == pytest.approx(reported["macro_f1"])
    assert f1_score(truth, predicted, average="micro", zero_division=0) == pytest.approx(reported["micro_f1"])


def test_resume_with_ema_ends_exactly_where_an_uninterrupted_ema_run_does(
    tiny_bert_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sections = {"train": {"epochs": 1, "eval_every": 2, "batch_size": 64, "ema_decay": 0.9}}
    whole = train(tiny_config(tmp_path / "whole", tiny_bert_dir, **sections), progress=False)
    real_step = step.forward_backward
    calls = {"n": 0}

    def crash_on_fifth_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("simulated crash")
        return real_step(*args, **kwargs)

    config = tiny_config(tmp_path / "resumed", tiny_bert_dir, **sections)
    monkeypatch.setattr(step, "forward_backward", crash_on_fifth_batch)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, progress=False)
    assert (tmp_path / "resumed" / "checkpoints" / "last" / "ema.safetensors").is_file()
    monkeypatch.setattr(step, "forward_backward", real_step)
    resumed = train(config, resume=True, progress=False)
    expected = load_file(str(whole.run_dir / "head.safetensors"))
    got = load_file(str(resumed.run_dir / "head.safetensors"))
    for name, tensor in expected.items():
        torch.testing.assert_close(got[name], tensor)


def test_cuda_out_of_memory_halves_the_micro_batch_doubles_accumulation_and_training_completes(
    tiny_bert_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A real CUDA out-of-memory cannot happen on the CPU-only CI machine, so the forward pass is made
    to raise torch.OutOfMemoryError once, exactly what PyTorch raises when CUDA allocation fails."""
    real_step = step.forward_backward
    calls = {"n": 0}

    def out_of_memory_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(*args, **kwargs)

    monkeypatch.setattr(step, "forward_backward", out_of_memory_once)
    config = tiny_config(tmp_path / "oom", tiny_bert_dir, train={"epochs": 1, "batch_size": 64})
    with caplog.at_level(logging.WARNING, logger="mindscreen.training.loop"):
        result = train(config, progress=False)
    assert "micro-batch 64 -> 32, grad_accum 1 -> 2 (effective batch 64 unchanged)" in caplog.text
    record = read_log(result.run_dir)[-1]
    assert record["micro_batch"] == 32 and record["grad_accum"] == 2
    assert result.metrics["steps"] == -(-420 // 64)  # the schedule kept its steps
    assert calls["n"] > result.metrics["steps"] + 1  # later steps ran in two halves


def test_every_technique_together_trains_calibrates_and_predicts_consistently(
    tiny_bert_dir: Path, tmp_path: Path
) -> None:
    from mindscreen.metrics import compute_metrics
    from mindscreen.predictors.run import RunPredictor
    from mindscreen.probabilities import apply_temperature, to_probabilities
    from mindscreen.rundir import read_calibration, read_predictions, read_thresholds

    techniques = {
        "loss": {"name": "asymmetric", "class_weights": "effective", "label_smoothing": 0.05},
        "sampling": "class_balanced",
        "sampling_power": 0.5,
        "llrd": 0.8,
        "head_lr": 5e-3,
        "ema_decay": 0.9,
        "calibration": "per_class",
    }
    augment = {"probability": 0.5, "minority_only": True}
    techniques |= {"epochs": 1, "batch_size": 64}
    config = tiny_config(tmp_path / "all", tiny_bert_dir, train=techniques, augment=augment)
    result = train(config, progress=False)
    run = result.run_dir
    assert sorted(p.name for p in run.iterdir()) == sorted(RUN_FILES)
    labels = json.loads((run / "model.json").read_text())["labels"]
    temperature = read_calibration(run, labels)
    assert temperature.shape == (len(labels),)
    calibration = result.metrics["calibration"]
    assert calibration["method"] == "per_class" and {"dev_ece_before", "dev_ece_after"} <= set(calibration)

    saved = read_predictions(run, "test")
    assert saved is not None
    probs = to_probabilities(apply_temperature(saved[0], temperature), multi_label=True)
    metrics = compute_metrics(saved[1], probs, labels, True, read_thresholds(run, labels))
    assert metrics["macro_f1"] == pytest.approx(result.metrics["test"]["macro_f1"])
    texts = [json.loads(line)["text"] for line in (resolve_data_dir("demo") / "test.jsonl").open()][:8]
    np.testing.assert_allclose(RunPredictor.from_dir(run).predict_proba(texts), probs[:8], atol=1e-5)


def test_epochs_with_sampling_and_augmentation_are_rebuilt_identically(tiny_bert_dir: Path) -> None:
    from mindscreen.data import load_splits
    from mindscreen.training.batching import encode_split
    from mindscreen.training.epochs import EpochPlanner

    config = tiny_config(
        Path("unused"), tiny_bert_dir, train={"sampling": "class_balanced"}, augment={"probability": 0.5}
    )
    splits = load_splits(config.data)
    _, tokenizer = build_model(config.model, splits.label_names, splits.multi_label)
    encoded = encode_split(tokenizer, splits.train, 48)
    planner = EpochPlanner(splits.train, encoded, tokenizer, 48, config, splits.multi_label)
    first, again, second = planner.plan(0), planner.plan(0), planner.plan(1)
    assert first.ids == again.ids and len(first.batches) == len(again.batches)
    assert all(np.array_equal(a, b) for a, b in zip(first.batches, again.batches, strict=True))
    assert first.ids != second.ids and first.ids != encoded.ids
    assert len(first.batches) == planner.batches_per_epoch()
    drawn = np.concatenate(first.batches)
    assert len(drawn) == len(encoded.ids) and len(set(drawn.tolist())) < len(drawn)  # with replacement


def test_a_search_trial_writes_no_weights_and_returns_its_best_dev_value(
    tiny_bert_dir: Path, tmp_path: Path
) -> None:
    seen: list[float] = []
    result = train(
        tiny_config(tmp_path / "trial", tiny_bert_dir, train={"epochs": 2}),
        progress=False,
        on_evaluate=lambda step, dev: seen.append(dev["macro_f1"]),
        keep_model=False,
    )
    assert sorted(p.name for p in result.run_dir.iterdir()) == ["config.yaml", "log.jsonl"]
    assert len(seen) == 2 and result.metrics["best_dev"] == max(seen)
    assert "test" not in result.metrics and result.metrics["timing"]["samples"] > 0


def test_padding_to_a_multiple_only_adds_masked_columns() -> None:
    ids = [[5, 6, 7], [8]]
    batch = collate(ids, np.arange(2), pad_id=0, pad_multiple=8)
    assert batch["input_ids"].shape == (2, 8)
    assert batch["attention_mask"].sum().item() == 4


def test_compiled_training_runs_on_cpu_with_one_graph_for_every_shape(
    tiny_bert_dir: Path, tmp_path: Path
) -> None:
    """torch.compile needs a C++ toolchain (gcc, on every machine of this project) and compiles for
    30-80 s on CPU; with symbolic shapes that is once per run, so it stays in the default suite."""
    from torch._dynamo.utils import counters

    counters.clear()
    sections = {"train": {"epochs": 1, "compile": True, "pad_to_multiple": 16, "batch_size": 64}}
    result = train(tiny_config(tmp_path / "compiled", tiny_bert_dir, **sections), progress=False)
    assert result.metrics["steps"] == 7
    # Several padded widths and a smaller last batch, yet a single graph: shapes are symbolic.
    assert counters["stats"]["unique_graphs"] == 1


def test_run_thresholds_are_checked_out_of_fold_and_the_check_is_recorded(trained_run: Path) -> None:
    from mindscreen.rundir import read_predictions, read_thresholds
    from mindscreen.thresholds import fit_thresholds

    labels = json.loads((trained_run / "model.json").read_text())["labels"]
    saved = json.loads((trained_run / "thresholds.json").read_text())
    metrics = json.loads((trained_run / "metrics.json").read_text())
    check = saved["check"]
    assert metrics["thresholds"] == {"fitted_on_dev": True, "checked": True, **check}
    assert check["decision"] == "per_class" and set(check["classes"]) == set(labels)
    thresholds = read_thresholds(trained_run, labels)  # readers ignore the check
    predictions = read_predictions(trained_run, "dev")
    assert predictions is not None
    logits, truth = predictions
    plain = fit_thresholds(truth, torch.sigmoid(torch.from_numpy(logits)).numpy(), multi_label=True)
    for index, label in enumerate(labels):
        expected = plain[index] if label in check["kept"] else 0.5  # no calibration in this run
        assert thresholds[index] == pytest.approx(expected)


def test_null_threshold_folds_fits_on_all_of_dev_as_before(tiny_bert_dir: Path, tmp_path: Path) -> None:
    from mindscreen.thresholds import default_thresholds, fit_thresholds
    from mindscreen.training.finish import _fit_run_thresholds

    rng = np.random.default_rng(0)
    truth = (rng.uniform(size=(60, 3)) < 0.3).astype(int)
    probs = rng.uniform(size=(60, 3))  # noise: the checked fit may drop thresholds, the plain one not
    labels = ["a", "b", "c"]
    plain = tiny_config(tmp_path, tiny_bert_dir, train={"threshold_folds": None})
    thresholds, check = _fit_run_thresholds(truth, probs, labels, True, plain)
    np.testing.assert_array_equal(thresholds, fit_thresholds(truth, probs, multi_label=True))
    assert check is None
    off = tiny_config(tmp_path, tiny_bert_dir, train={"fit_thresholds": False})
    thresholds, check = _fit_run_thresholds(truth, probs, labels, True, off)
    np.testing.assert_array_equal(thresholds, default_thresholds(3, multi_label=True))
    assert check is None
    _, check = _fit_run_thresholds(truth, probs, labels, True, tiny_config(tmp_path, tiny_bert_dir))
    assert check is not None and check["folds"] == 5
