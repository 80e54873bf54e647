"""mindscreen's training loop, readable top to bottom.

seed → data → defaults from the data → model → loss → optimizer/scheduler → loop (accumulation, autocast,
clipping, EMA, out-of-memory recovery) → evaluate → keep best → calibrate, fit thresholds →
write the run directory. What each epoch trains on (augmentation, class-balanced sampling,
length-grouped batches) comes from :mod:`mindscreen.training.epochs`. Under ``torchrun`` or
``accelerate launch`` every rank trains on its share of each epoch's batches
(DistributedDataParallel) and rank 0 alone evaluates and writes the run directory.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from mindscreen.config import RunConfig, TrainConfig, dump_config
from mindscreen.data import Splits, load_splits
from mindscreen.defaults import resolve_from_data
from mindscreen.inference import aggregate_logits, predict_logits, training_mode
from mindscreen.losses import build_loss
from mindscreen.metrics import compute_metrics, primary_metric
from mindscreen.modeling import Classifier, build_model, load_tokenizer, save_model
from mindscreen.probabilities import to_probabilities
from mindscreen.rundir import CONFIG_FILE, PROFILE_FILE, append_log, read_json, truncate_log
from mindscreen.tracking import NullTracker, Tracker, build_tracker, failed_on_error, flatten
from mindscreen.training.batching import Encoded, encode_split
from mindscreen.training.checkpoint import (
    TrainState,
    check_resume_config,
    has_checkpoint,
    load_checkpoint,
    recover_checkpoint,
    remove_checkpoints,
    save_checkpoint,
)
from mindscreen.training.distributed import (
    World,
    barrier,
    broadcast_flag,
    init_world,
    local_device_name,
    main_process_first,
    shard,
    shutdown,
    wrap,
)
from mindscreen.training.ema import EMA
from mindscreen.training.epochs import EpochPlanner
from mindscreen.training.finish import finish_run
from mindscreen.training.oom import micro_batch_size
from mindscreen.training.optim import build_optimizer, cosine_with_warmup
from mindscreen.training.step import Stepper, Throughput, optimizer_step

logger = logging.getLogger(__name__)

# Texts from the training set scored at each evaluation to measure the train-vs-dev gap.
GAP_SAMPLE = 512


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]


# Called after each evaluation with (optimizer step, dev metrics at default thresholds).
# It may raise to stop training (the tuner raises optuna.TrialPruned this way).
EvalHook = Callable[[int, dict[str, Any]], None]


def train(
    config: RunConfig,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    on_evaluate: EvalHook | None = None,
    splits: Splits | None = None,
    keep_model: bool = True,
) -> TrainResult:
    """Train a classifier as ``config`` says and write its run directory.

    Args:
        config: the resolved run config.
        resume: continue from ``output_dir/checkpoints/last`` after an interruption, under the
            config the run started with.
        overwrite: replace an existing run directory instead of refusing; with ``resume``, continue
            under a config that differs from the run's ``config.yaml`` (which is rewritten).
        progress: show a progress bar.
        on_evaluate: called after every evaluation with the step and the dev metrics.
        splits: data already loaded (for example subsampled); default: read ``config.data``.
        keep_model: False for a search trial, which needs only the dev scores that reach
            ``on_evaluate`` and log.jsonl: no model or checkpoint is written (so ``resume`` is
            impossible), no final calibration, thresholds or test scoring; the returned metrics hold
            the best dev value, its step and the throughput.
    """
    run_dir = Path(config.output_dir)
    tcfg = config.train
    world = init_world(tcfg.device)
    with main_process_first(world):
        if world.is_main:
            _prepare_run_dir(run_dir, resume, overwrite)
    _seed_everything(tcfg.seed)

    splits = splits or load_splits(config.data)
    tokenizer = load_tokenizer(config.model.encoder)
    config = resolve_from_data(
        config, splits, tokenizer, run_dir if world.is_main and keep_model else None
    ).config
    if resume and world.is_main:  # compared once both are resolved the same way from the data
        check_resume_config(run_dir, config, overwrite)
    tcfg = config.train
    model, tokenizer = build_model(config.model, splits.label_names, splits.multi_label, tokenizer)
    device, amp_dtype = _pick_device(tcfg, world)
    model.to(device)
    max_length = model.spec.max_length
    long_text = model.spec.long_text
    train_set = encode_split(tokenizer, splits.train, max_length, training_mode(long_text))
    dev_set = encode_split(tokenizer, splits.dev, max_length, long_text)
    logger.info(
        "training on %d texts, validating on %d; %d labels (%s) on %s",
        len(train_set.ids),
        len(dev_set.labels),
        len(splits.label_names),
        "multi-label" if splits.multi_label else "multi-class",
        device,
    )

    loss_fn = build_loss(tcfg.loss, splits.multi_label, splits.train.labels)
    planner = EpochPlanner(splits.train, train_set, tokenizer, max_length, config, splits.multi_label)
    steps_per_epoch = math.ceil(planner.batches_per_epoch() // world.size / tcfg.grad_accum)
    total_steps = max(1, math.ceil(tcfg.epochs * steps_per_epoch))
    optimizer = build_optimizer(model, tcfg.lr, tcfg.weight_decay, tcfg.llrd, tcfg.head_lr)
    scheduler = cosine_with_warmup(optimizer, int(tcfg.warmup * total_steps), total_steps)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    ema = EMA(model, tcfg.ema_decay) if tcfg.ema_decay is not None else None

    state = TrainState()
    if resume:
        state = load_checkpoint(run_dir, model, optimizer, scheduler, ema)
        if world.is_main:
            truncate_log(run_dir, state.step)
        logger.info("resuming at step %d of %d", state.step, total_steps)
    elif world.is_main:
        (run_dir / CONFIG_FILE).write_text(dump_config(config))

    tracker = _start_tracking(config, run_dir) if world.is_main and keep_model else NullTracker()
    gap_rows = np.random.default_rng(tcfg.seed).permutation(len(train_set.ids))[:GAP_SAMPLE]
    gap_set = Encoded([train_set.ids[i] for i in gap_rows], train_set.labels[gap_rows])
    evaluate_every = tcfg.eval_every or steps_per_epoch
    context = EvalContext(
        model,
        tokenizer,
        run_dir,
        splits,
        dev_set,
        gap_set,
        loss_fn,
        tcfg,
        amp_dtype,
        on_evaluate,
        ema,
        keep_model,
        tracker,
    )
    trained = wrap(_compiled(model) if tcfg.compile else model, world)
    stepper = Stepper(
        trained, loss_fn, optimizer, scaler, device, amp_dtype, tcfg, tokenizer.pad_token_id or 0
    )
    bar = tqdm(
        total=total_steps,
        initial=state.step,
        desc="train",
        unit="step",
        disable=not progress or not world.is_main,
    )
    running_loss = torch.zeros((), device=device)  # summed on device: no host sync per step
    clock = Throughput(device)
    stop = False

    with failed_on_error(tracker):
        model.train()
        while state.step < total_steps and not stop:
            epoch = planner.plan(state.epoch)
            batches = shard(epoch.batches, world)
            for start in range(state.batches_done, len(batches), tcfg.grad_accum):
                group = batches[start : start + tcfg.grad_accum]
                running_loss += stepper.accumulate(epoch, group, state)
                clock.count(epoch.ids, group)
                state.train_loss_count += len(group)
                state.batches_done = start + len(group)
                at_epoch_end = state.batches_done == len(batches)
                optimizer_step(model, optimizer, scheduler, scaler, tcfg.clip_norm)
                if ema is not None:
                    ema.update(model, state.step)
                state.step += 1
                bar.update(1)
                last_step = state.step >= total_steps
                if at_epoch_end:
                    state.epoch, state.batches_done = state.epoch + 1, 0
                epoch_eval = at_epoch_end and tcfg.eval_every is None
                if state.step % evaluate_every == 0 or last_step or epoch_eval:
                    clock.pause()
                    state.train_loss_sum += float(running_loss)
                    running_loss.zero_()
                    if world.is_main:
                        stop = _evaluate_and_keep_best(context, state, float(max(scheduler.get_last_lr())))
                        bar.set_postfix(best=f"{state.best_metric:.4f}")
                        if keep_model:
                            save_checkpoint(run_dir, model, optimizer, scheduler, state, ema)
                    stop = broadcast_flag(stop, world, device)
                    clock.resume()
                if stop or last_step:
                    break
        bar.close()
        if stop:
            logger.info("early stop at step %d: no improvement in %d evaluations", state.step, tcfg.patience)

        metrics: dict[str, Any] = {}
        if world.is_main and keep_model:
            metrics = finish_run(
                run_dir, splits, config, device, amp_dtype, state, {"timing": clock.summary(world)}
            )
            remove_checkpoints(run_dir)
            tracker.finish(run_dir, metrics)
        elif world.is_main:
            metrics = {
                "primary_metric": tcfg.metric,
                "best_dev": state.best_metric,
                "best_step": state.best_step,
                "steps": state.step,
                "timing": clock.summary(world),
            }
    barrier(world)
    shutdown(world)
    return TrainResult(run_dir=run_dir, metrics=metrics)


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
    ema: EMA | None = None
    keep_model: bool = True
    tracker: Tracker = field(default_factory=NullTracker)

    def score(self, data: Encoded) -> tuple[float, dict[str, Any]]:
        """Loss and metrics (default thresholds) of the current model on ``data``."""
        pad_id = self.tokenizer.pad_token_id or 0
        logits = predict_logits(self.model, data.ids, pad_id, self.tcfg.eval_batch_size, self.amp_dtype)
        if data.windows is not None:  # a long text's windows (model.long_text=chunks) to one row
            logits = aggregate_logits(logits, data.windows, self.splits.multi_label)
        loss = float(self.loss_fn(torch.from_numpy(logits), torch.from_numpy(data.labels)))
        probs = to_probabilities(logits, self.splits.multi_label)
        return loss, compute_metrics(data.labels, probs, self.splits.label_names, self.splits.multi_label)


def _evaluate_and_keep_best(ctx: EvalContext, state: TrainState, lr: float) -> bool:
    """Score dev (and a train sample), log it, save the model if it is the best; True means stop."""
    tcfg = ctx.tcfg
    with ctx.ema.applied(ctx.model) if ctx.ema is not None else contextlib.nullcontext():
        dev_loss, dev_metrics = ctx.score(ctx.dev_set)
        _, gap_metrics = ctx.score(ctx.gap_set)
        value = primary_metric(dev_metrics, tcfg.metric)
        train_value = primary_metric(gap_metrics, tcfg.metric)
        improved = value > state.best_metric
        if improved:
            state.best_metric, state.best_step, state.evals_without_improvement = value, state.step, 0
            if ctx.keep_model:
                save_model(ctx.model, ctx.tokenizer, ctx.run_dir)
        else:
            state.evals_without_improvement += 1
    train_loss = state.train_loss_sum / max(1, state.train_loss_count)
    state.train_loss_sum, state.train_loss_count = 0.0, 0
    record: dict[str, Any] = {
        "step": state.step,
        "epoch": state.epoch,
        "lr": lr,
        "train_loss": train_loss,
        "val_loss": dev_loss,
        f"train_{tcfg.metric}": train_value,
        f"val_{tcfg.metric}": value,
        "train_val_gap": train_value - value,
        "best": improved,
        "micro_batch": micro_batch_size(tcfg.batch_size, state.micro_splits),
        "grad_accum": tcfg.grad_accum * state.micro_splits,
        "val": {k: dev_metrics[k] for k in ("macro_f1", "micro_f1", "weighted_f1", "accuracy")},
    }
    append_log(ctx.run_dir, record)
    ctx.tracker.log_evaluation(state.step, record)
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


def _start_tracking(config: RunConfig, run_dir: Path) -> Tracker:
    """The trackers of ``train.tracking``, started with the resolved config and the data profile."""
    tcfg = config.train
    tracker = build_tracker(tcfg.tracking, {"uri": tcfg.tracking_uri, "experiment": tcfg.experiment})
    if isinstance(tracker, NullTracker):
        return tracker
    params = flatten(config.model_dump(mode="json"))
    profile_file = run_dir / PROFILE_FILE
    if profile_file.is_file():  # counts and lengths only, never texts
        params.update(flatten(read_json(profile_file).get("profile", {}), "profile."))
    tracker.start(run_dir, params)
    return tracker


def _pick_device(tcfg: TrainConfig, world: World | None = None) -> tuple[torch.device, torch.dtype | None]:
    """The device, and the autocast dtype (None: full precision)."""
    name = local_device_name(world or World(), tcfg.device)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    precision = tcfg.precision
    if precision == "auto":
        if device.type != "cuda":
            return device, None
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return device, {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def _compiled(model: Classifier) -> nn.Module:
    """The model under torch.compile: same parameters, fused kernels.

    Batch size and padded length are symbolic from the start (``dynamic=True``): one graph serves
    every length bucket and the smaller last batch. Left static, dynamo compiles the first shape,
    recompiles on the second and only then goes dynamic (3 graphs against 1, and 200 s against 78 s
    of training plus compilation for the tiny test encoder on CPU).
    """
    compiled = torch.compile(model, dynamic=True)
    assert isinstance(compiled, nn.Module)
    return compiled


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _prepare_run_dir(run_dir: Path, resume: bool, overwrite: bool) -> None:
    if resume:
        recover_checkpoint(run_dir)
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
