"""mindscreen's training loop, readable top to bottom.

seed → data → model → loss → optimizer/scheduler → loop (accumulation, autocast,
clipping) → evaluate → keep best → fit thresholds → write the run directory.
"""

from __future__ import annotations

import logging
import math
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from mindscreen.config import RunConfig, TrainConfig, dump_config
from mindscreen.data import Split, Splits, load_splits
from mindscreen.inference import autocast, predict_logits, to_probs
from mindscreen.losses import build_loss
from mindscreen.metrics import compute_metrics, primary_metric
from mindscreen.modeling import Classifier, build_model, load_model, save_model
from mindscreen.rundir import (
    CONFIG_FILE,
    METRICS_FILE,
    append_log,
    truncate_log,
    write_json,
    write_predictions,
    write_thresholds,
)
from mindscreen.thresholds import default_thresholds, fit_thresholds
from mindscreen.training.batching import collate, encode_texts, train_batches
from mindscreen.training.checkpoint import (
    TrainState,
    has_checkpoint,
    load_checkpoint,
    remove_checkpoints,
    save_checkpoint,
)
from mindscreen.training.optim import build_optimizer, cosine_with_warmup

logger = logging.getLogger(__name__)

# Texts from the training set scored at each evaluation to measure the train-vs-dev gap.
GAP_SAMPLE = 512


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]


@dataclass
class Encoded:
    """A split as token ids, ready to batch."""

    ids: list[list[int]]
    labels: np.ndarray  # (N, C)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(row) for row in self.ids])


# Called after each evaluation with (optimizer step, dev metrics at default thresholds).
# It may raise to stop training (the tuner raises optuna.TrialPruned this way).
EvalHook = Callable[[int, dict[str, Any]], None]


def train(
    config: RunConfig,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    on_evaluate: EvalHook | None = None,
) -> TrainResult:
    """Train a classifier as ``config`` says and write its run directory.

    Args:
        config: the resolved run config.
        resume: continue from ``output_dir/checkpoints/last`` after an interruption.
        overwrite: replace an existing run directory instead of refusing.
        progress: show a progress bar.
        on_evaluate: called after every evaluation with the step and the dev metrics.
    """
    run_dir = Path(config.output_dir)
    _prepare_run_dir(run_dir, resume, overwrite)
    tcfg = config.train
    _seed_everything(tcfg.seed)

    splits = load_splits(config.data)
    model, tokenizer = build_model(config.model, splits.label_names, splits.multi_label)
    device, amp_dtype = _pick_device(tcfg)
    model.to(device)
    train_set, dev_set = (_encode(tokenizer, s, model.spec.max_length) for s in (splits.train, splits.dev))
    logger.info(
        "training on %d texts, validating on %d; %d labels (%s) on %s",
        len(train_set.ids),
        len(dev_set.ids),
        len(splits.label_names),
        "multi-label" if splits.multi_label else "multi-class",
        device,
    )

    loss_fn = build_loss(tcfg.loss, splits.multi_label)
    batches_per_epoch = math.ceil(len(train_set.ids) / tcfg.batch_size)
    steps_per_epoch = math.ceil(batches_per_epoch / tcfg.grad_accum)
    total_steps = max(1, math.ceil(tcfg.epochs * steps_per_epoch))
    optimizer = build_optimizer(model, tcfg.lr, tcfg.weight_decay)
    scheduler = cosine_with_warmup(optimizer, int(tcfg.warmup * total_steps), total_steps)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    state = TrainState()
    if resume:
        state = load_checkpoint(run_dir, model, optimizer, scheduler)
        truncate_log(run_dir, state.step)
        logger.info("resuming at step %d of %d", state.step, total_steps)
    else:
        (run_dir / CONFIG_FILE).write_text(dump_config(config))

    gap_rows = np.random.default_rng(tcfg.seed).permutation(len(train_set.ids))[:GAP_SAMPLE]
    gap_set = Encoded([train_set.ids[i] for i in gap_rows], train_set.labels[gap_rows])
    evaluate_every = tcfg.eval_every or steps_per_epoch
    pad_id = tokenizer.pad_token_id or 0
    context = EvalContext(
        model, tokenizer, run_dir, splits, dev_set, gap_set, loss_fn, tcfg, amp_dtype, on_evaluate
    )
    bar = tqdm(total=total_steps, initial=state.step, desc="train", unit="step", disable=not progress)
    running_loss = torch.zeros((), device=device)  # summed on device: no host sync per step
    stop = False

    model.train()
    while state.step < total_steps and not stop:
        rng = np.random.default_rng([tcfg.seed, state.epoch])
        batches = train_batches(train_set.lengths, tcfg.batch_size, rng, tcfg.group_by_length)
        for position in range(state.batches_done, len(batches)):
            batch = collate(train_set.ids, batches[position], pad_id, train_set.labels)
            loss = _forward_backward(model, batch, loss_fn, device, amp_dtype, scaler, tcfg.grad_accum)
            running_loss += loss.detach()
            state.train_loss_count += 1
            state.batches_done = position + 1
            at_epoch_end = position == len(batches) - 1
            if state.batches_done % tcfg.grad_accum and not at_epoch_end:
                continue
            _optimizer_step(model, optimizer, scheduler, scaler, tcfg.clip_norm)
            state.step += 1
            bar.update(1)
            last_step = state.step >= total_steps
            if state.step % evaluate_every == 0 or last_step or (at_epoch_end and tcfg.eval_every is None):
                state.train_loss_sum += float(running_loss)
                running_loss.zero_()
                if at_epoch_end:
                    state.epoch, state.batches_done = state.epoch + 1, 0
                stop = _evaluate_and_keep_best(context, state, float(scheduler.get_last_lr()[0]))
                bar.set_postfix(best=f"{state.best_metric:.4f}")
                save_checkpoint(run_dir, model, optimizer, scheduler, state)
            elif at_epoch_end:
                state.epoch, state.batches_done = state.epoch + 1, 0
            if stop or last_step:
                break
    bar.close()
    if stop:
        logger.info("early stop at step %d: no improvement in %d evaluations", state.step, tcfg.patience)

    metrics = _finish(run_dir, splits, config, amp_dtype, state)
    remove_checkpoints(run_dir)
    return TrainResult(run_dir=run_dir, metrics=metrics)


def _forward_backward(
    model: Classifier,
    batch: dict[str, torch.Tensor],
    loss_fn: nn.Module,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    scaler: torch.amp.GradScaler,
    grad_accum: int,
) -> torch.Tensor:
    """One micro-batch: forward under autocast, loss scaled for accumulation, backward."""
    input_ids = batch["input_ids"].to(device, non_blocking=True)
    mask = batch["attention_mask"].to(device, non_blocking=True)
    targets = batch["labels"].to(device, non_blocking=True)
    with autocast(device, amp_dtype):
        logits = model(input_ids, mask)  # (B, C)
    loss = loss_fn(logits.float(), targets)
    scaler.scale(loss / grad_accum).backward()
    return loss


def _optimizer_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler,
    clip_norm: float | None,
) -> None:
    if clip_norm is not None:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)


@dataclass
class EvalContext:
    """What every evaluation during training needs."""

    model: Classifier
    tokenizer: Any
    run_dir: Path
    splits: Splits
    dev_set: Encoded
    gap_set: Encoded
    loss_fn: nn.Module
    tcfg: TrainConfig
    amp_dtype: torch.dtype | None
    on_evaluate: EvalHook | None

    def score(self, data: Encoded) -> tuple[float, dict[str, Any]]:
        """Loss and metrics (default thresholds) of the current model on ``data``."""
        pad_id = self.tokenizer.pad_token_id or 0
        logits = predict_logits(self.model, data.ids, pad_id, self.tcfg.eval_batch_size, self.amp_dtype)
        loss = float(self.loss_fn(torch.from_numpy(logits), torch.from_numpy(data.labels)))
        probs = to_probs(logits, self.splits.multi_label)
        return loss, compute_metrics(data.labels, probs, self.splits.label_names, self.splits.multi_label)


def _evaluate_and_keep_best(ctx: EvalContext, state: TrainState, lr: float) -> bool:
    """Score dev (and a train sample), log it, save the model if it is the best; True means stop."""
    tcfg = ctx.tcfg
    dev_loss, dev_metrics = ctx.score(ctx.dev_set)
    _, gap_metrics = ctx.score(ctx.gap_set)
    value = primary_metric(dev_metrics, tcfg.metric)
    train_value = primary_metric(gap_metrics, tcfg.metric)
    improved = value > state.best_metric
    if improved:
        state.best_metric, state.best_step, state.evals_without_improvement = value, state.step, 0
        save_model(ctx.model, ctx.tokenizer, ctx.run_dir)
    else:
        state.evals_without_improvement += 1
    train_loss = state.train_loss_sum / max(1, state.train_loss_count)
    state.train_loss_sum, state.train_loss_count = 0.0, 0
    append_log(
        ctx.run_dir,
        {
            "step": state.step,
            "epoch": state.epoch,
            "lr": lr,
            "train_loss": train_loss,
            "val_loss": dev_loss,
            f"train_{tcfg.metric}": train_value,
            f"val_{tcfg.metric}": value,
            "train_val_gap": train_value - value,
            "best": improved,
            "val": {k: dev_metrics[k] for k in ("macro_f1", "micro_f1", "weighted_f1", "accuracy")},
        },
    )
    logger.info(
        "step %d: val %s %.4f (best %.4f at step %d)",
        state.step,
        tcfg.metric,
        value,
        state.best_metric,
        state.best_step,
    )
    if ctx.on_evaluate is not None:
        ctx.on_evaluate(state.step, dev_metrics)
    return tcfg.patience is not None and state.evals_without_improvement >= tcfg.patience


def _finish(
    run_dir: Path, splits: Splits, config: RunConfig, amp_dtype: torch.dtype | None, state: TrainState
) -> dict[str, Any]:
    """Reload the best model, fit thresholds on dev, score dev and test, write metrics.json."""
    model, tokenizer = load_model(run_dir)
    device = _pick_device(config.train)[0]
    model.to(device)
    probs = {}
    for split in (splits.dev, splits.test):
        if split is not None:
            encoded = _encode(tokenizer, split, model.spec.max_length)
            logits = predict_logits(
                model, encoded.ids, tokenizer.pad_token_id or 0, config.train.eval_batch_size, amp_dtype
            )
            write_predictions(run_dir, split.name, logits, split.labels)
            probs[split.name] = (split, to_probs(logits, splits.multi_label))
    n_labels = len(splits.label_names)
    defaults = default_thresholds(n_labels, splits.multi_label)
    dev_split, dev_probs = probs["dev"]
    fitted = config.train.fit_thresholds
    thresholds = fit_thresholds(dev_split.labels, dev_probs, splits.multi_label) if fitted else defaults
    write_thresholds(run_dir, splits.label_names, thresholds, fitted)
    metrics: dict[str, Any] = {
        "primary_metric": config.train.metric,
        "best_step": state.best_step,
        "steps": state.step,
    }
    for name, (split, split_probs) in probs.items():
        args = (split.labels, split_probs, splits.label_names, splits.multi_label)
        metrics[name] = compute_metrics(*args, thresholds=thresholds)
        metrics[f"{name}_default_thresholds"] = compute_metrics(*args, thresholds=defaults)
    write_json(run_dir / METRICS_FILE, metrics)
    return metrics


def _encode(tokenizer: Any, split: Split, max_length: int) -> Encoded:
    return Encoded(encode_texts(tokenizer, split.texts, max_length), split.labels)


def _pick_device(tcfg: TrainConfig) -> tuple[torch.device, torch.dtype | None]:
    """The device, and the autocast dtype (None: full precision)."""
    name = tcfg.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    precision = tcfg.precision
    if precision == "auto":
        if device.type != "cuda":
            return device, None
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return device, {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _prepare_run_dir(run_dir: Path, resume: bool, overwrite: bool) -> None:
    if resume:
        if not has_checkpoint(run_dir):
            raise FileNotFoundError(
                f"nothing to resume in {run_dir}: no checkpoints/last (a finished run removes it); "
                "train without --resume to start over"
            )
        return
    if run_dir.exists() and any(run_dir.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"run directory {run_dir} already exists and is not empty; pass --resume to continue it, "
                "--overwrite to replace it, or set output_dir=... to write elsewhere"
            )
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
