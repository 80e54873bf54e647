"""The rules that choose settings from a data profile, in the order they are applied.

Each rule looks at the :class:`~mindscreen.data.profile.DataProfile` and the config resolved so far
and proposes one ``(dotted key, value, reason)``, or nothing. A key the user set is never changed
(:mod:`mindscreen.defaults.resolve` keeps it and logs what the rule would have chosen). The
thresholds are round numbers with a stated reason, not values fitted to a benchmark; the reasons are
in docs/training-guide.md ("Defaults from your data").

Every dotted key a rule reads or sets is a constant below, so renaming a config key is one edit here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mindscreen.config import RunConfig
from mindscreen.data.profile import DataProfile

MAX_LENGTH = "model.max_length"
LONG_TEXT = "model.long_text"
LR = "train.lr"
EPOCHS = "train.epochs"
EVAL_EVERY = "train.eval_every"
PATIENCE = "train.patience"
CLASS_WEIGHTS = "train.loss.class_weights"
SAMPLING = "train.sampling"
BATCH_SIZE = "train.batch_size"
GRAD_ACCUM = "train.grad_accum"

# Lengths a run may keep: powers of two from the library default up. Never below 128: batches are
# padded to their own longest text, so room a short text does not use costs nothing.
LENGTH_BUCKETS = (128, 256, 512)
LENGTH_PERCENTILE = "p95"  # keep at least 95% of training texts whole
# Cost cap: attention grows with the square of the length, and 512 is the pre-training length of
# BERT-family encoders; beyond it the long-text mode is the better answer.
LENGTH_CAP = 512
# Share of training texts past max_length above which the log says so and names the other modes.
# head_tail (Sun et al. 2019) did not beat truncation consistently where this project measured it
# (dreaddit and depression_reddit at 128 tokens: the order flipped with the seed, BENCHMARKS.md
# "Long posts"), so the rule does not switch to it.
LONG_TEXT_SHARE = 0.10
EXAMPLES_PER_RUN = 10_000  # a run shows the model at least about this many examples...
EPOCH_RANGE = (3, 10)  # ...in 3 to 10 passes over the training data
EXAMPLES_PER_EVAL = 10_000  # large sets: one evaluation per ~10,000 training examples...
MAX_EVALS_PER_EPOCH = 4  # ...at most 4 per epoch (each scores all of dev)
PATIENCE_EPOCHS = 2  # early stopping waits about two epochs' worth of evaluations
DEFAULT_PATIENCE = 3
IMBALANCE_FOR_WEIGHTS = 3.0  # largest / smallest training class count
SMALL_WIDTH, LARGE_WIDTH = 512, 1024  # encoder hidden sizes
LR_SMALL, LR_BASE, LR_LARGE = 1e-4, 5e-5, 2e-5


@dataclass(frozen=True)
class Choice:
    """A setting a rule proposes, and why."""

    key: str
    value: Any
    reason: str


Rule = Callable[[DataProfile, RunConfig], Choice | None]


def setting(config: RunConfig, key: str) -> Any:
    """The value of dotted ``key`` in ``config``."""
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def max_length_from_lengths(profile: DataProfile, config: RunConfig) -> Choice:
    """The smallest bucket that keeps 95% of training texts whole, within the cost cap and encoder."""
    tokens = profile.tokens
    cap = min(LENGTH_CAP, profile.encoder.length_limit)
    need = tokens.quantiles[LENGTH_PERCENTILE]
    buckets = [b for b in LENGTH_BUCKETS if b <= cap] or [cap]
    value = next((b for b in buckets if b >= need), cap)
    cost = tokens.kept_tokens(value) / max(tokens.kept_tokens(128), 1e-9)
    cost_note = f"; about {cost:.1f}x the tokens per epoch of 128" if cost >= 1.05 else ""
    if value >= need:
        reason = (
            f"{1 - tokens.share_longer_than(value):.0%} of training texts fit whole in {value} tokens "
            f"({LENGTH_PERCENTILE} {need}){cost_note}"
        )
    else:
        limit = "the encoder's limit" if cap < LENGTH_CAP else "the cost cap"
        reason = (
            f"{LENGTH_PERCENTILE} is {need} tokens, above {limit} of {cap}: "
            f"{tokens.share_longer_than(value):.0%} of training texts are cut at {value}{cost_note}"
        )
    return Choice(MAX_LENGTH, value, reason)


def long_text_from_lengths(profile: DataProfile, config: RunConfig) -> Choice:
    """``truncate``, with the share of training texts the run's max_length cuts as the reason."""
    length = setting(config, MAX_LENGTH)
    share = profile.tokens.share_longer_than(length)
    if share > LONG_TEXT_SHARE:
        return Choice(
            LONG_TEXT,
            "truncate",
            f"{share:.0%} of training texts exceed {length} tokens (over {LONG_TEXT_SHARE:.0%}) and are cut "
            "to their start; head_tail and chunks did not beat that consistently on the public Reddit sets; "
            "set model.long_text=head_tail if your texts end with what they are about",
        )
    return Choice(
        LONG_TEXT,
        "truncate",
        f"{share:.0%} of training texts exceed {length} tokens (at most {LONG_TEXT_SHARE:.0%}): cutting "
        "their ends loses little",
    )


def lr_from_encoder_width(profile: DataProfile, config: RunConfig) -> Choice | None:
    """Small encoders fine-tune at a higher learning rate than base ones, large ones lower."""
    width = profile.encoder.width
    if width is None:
        return None
    if width <= SMALL_WIDTH:
        return Choice(LR, LR_SMALL, f"small encoder (width {width}): small models fine-tune best at ~1e-4")
    if width >= LARGE_WIDTH:
        return Choice(LR, LR_LARGE, f"large encoder (width {width}): large models are unstable above ~2e-5")
    return Choice(LR, LR_BASE, f"base-size encoder (width {width})")


def epochs_from_size(profile: DataProfile, config: RunConfig) -> Choice:
    """Enough passes to show the model about EXAMPLES_PER_RUN examples, within EPOCH_RANGE."""
    rows = max(profile.train_rows, 1)
    low, high = EPOCH_RANGE
    epochs = min(high, max(low, math.ceil(EXAMPLES_PER_RUN / rows)))
    seen = f"{rows:,} training texts: {epochs} passes show the model {epochs * rows:,} examples"
    if epochs == low:
        why = f"{low} passes is the floor"
    elif epochs == high and epochs * rows < EXAMPLES_PER_RUN:
        why = f"{high} passes is the ceiling; early stopping ends it sooner if dev stops improving"
    else:
        why = f"small sets need more passes to reach about {EXAMPLES_PER_RUN:,} examples"
    return Choice(EPOCHS, epochs, f"{seen} ({why})")


def eval_every_from_size(profile: DataProfile, config: RunConfig) -> Choice | None:
    """Large sets: evaluate several times per epoch, so the best checkpoint has resolution."""
    per_epoch = min(MAX_EVALS_PER_EPOCH, profile.train_rows // EXAMPLES_PER_EVAL)
    if per_epoch < 2:
        return None
    steps = _steps_per_epoch(profile, config)
    every = math.ceil(steps / per_epoch)
    return Choice(
        EVAL_EVERY,
        every,
        f"{profile.train_rows:,} training texts: {per_epoch} evaluations per epoch of {steps} steps "
        f"(one per ~{EXAMPLES_PER_EVAL:,} examples)",
    )


def patience_from_eval_every(profile: DataProfile, config: RunConfig) -> Choice | None:
    """With several evaluations per epoch, patience keeps covering about two epochs."""
    every = setting(config, EVAL_EVERY)
    if every is None:
        return None
    per_epoch = _steps_per_epoch(profile, config) / every
    if per_epoch < 2:
        return None
    patience = max(DEFAULT_PATIENCE, math.ceil(PATIENCE_EPOCHS * per_epoch))
    return Choice(
        PATIENCE,
        patience,
        f"{per_epoch:.1f} evaluations per epoch: stop after about {PATIENCE_EPOCHS} epochs "
        "without improvement",
    )


def class_weights_from_imbalance(profile: DataProfile, config: RunConfig) -> Choice | None:
    """Effective-number class weights (Cui et al. 2019) from an imbalance of 3:1 up."""
    ratio = profile.imbalance_ratio
    if ratio is None:
        return None
    if ratio < IMBALANCE_FOR_WEIGHTS:
        return Choice(CLASS_WEIGHTS, "none", f"classes near balance ({ratio:.1f}:1, under 3:1)")
    if setting(config, SAMPLING) != "none":
        return Choice(
            CLASS_WEIGHTS, "none", f"imbalance {ratio:.1f}:1, but {SAMPLING} already rebalances the batches"
        )
    return Choice(CLASS_WEIGHTS, "effective", f"imbalance {ratio:.1f}:1 (3:1 or more)")


def _steps_per_epoch(profile: DataProfile, config: RunConfig) -> int:
    per_step = setting(config, BATCH_SIZE) * setting(config, GRAD_ACCUM)
    return max(1, math.ceil(profile.train_rows / per_step))


# Applied in this order; a rule sees the choices of those before it (the long-text mode reads the
# max_length just chosen, or the user's).
RULES: list[Rule] = [
    max_length_from_lengths,
    long_text_from_lengths,
    lr_from_encoder_width,
    epochs_from_size,
    eval_every_from_size,
    patience_from_eval_every,
    class_weights_from_imbalance,
]
