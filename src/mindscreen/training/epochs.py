"""What each epoch trains on: augmented texts, class-balanced draws, length-grouped batches.

Everything an epoch uses comes from generators seeded with ``[seed, epoch]`` (batches and
sampling) and ``[seed, epoch, AUGMENT_STREAM]`` (augmentation), so the same epoch is rebuilt
identically after a resume. Only training texts pass through here; dev and test never do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mindscreen.augmentation import AUGMENT_STREAM, augment_texts, eligible_examples, load_synonyms
from mindscreen.config import RunConfig
from mindscreen.data import Split
from mindscreen.inference import encode_windows, training_mode
from mindscreen.sampling import build_sample_weights, sample_epoch
from mindscreen.training.batching import Encoded, train_batches


@dataclass
class Epoch:
    """One epoch's token ids (augmented where drawn) and its batches of example indices."""

    ids: list[list[int]]
    labels: np.ndarray  # (N, C)
    batches: list[np.ndarray]


class EpochPlanner:
    """Builds each epoch of a run from its training split and config."""

    def __init__(
        self,
        train: Split,
        encoded: Encoded,
        tokenizer: Any,
        max_length: int,
        config: RunConfig,
        multi_label: bool,
    ) -> None:
        self.train, self.encoded, self.tokenizer, self.max_length = train, encoded, tokenizer, max_length
        self.tcfg, self.augment = config.train, config.augment
        self.long_text = training_mode(config.model.long_text)
        self.probabilities = (
            build_sample_weights(
                train.labels, self.tcfg.sampling_power, multi_label, self.tcfg.sampling_multi_label
            )
            if self.tcfg.sampling == "class_balanced"
            else None
        )
        augmenting = self.augment.probability > 0
        self.synonyms = load_synonyms(self.augment.synonyms) if augmenting else {}
        self.eligible = eligible_examples(train.labels, self.augment) if augmenting else None

    def batches_per_epoch(self) -> int:
        return -(-len(self.encoded.ids) // self.tcfg.batch_size)

    def plan(self, epoch: int) -> Epoch:
        """The ids and batches of epoch ``epoch`` (0-based)."""
        seed = self.tcfg.seed
        ids = self._augmented_ids(epoch)
        rng = np.random.default_rng([seed, epoch])
        indices = sample_epoch(self.probabilities, rng) if self.probabilities is not None else None
        lengths = np.array([len(row) for row in ids])
        batches = train_batches(lengths, self.tcfg.batch_size, rng, self.tcfg.group_by_length, indices)
        return Epoch(ids, self.encoded.labels, batches)

    def _augmented_ids(self, epoch: int) -> list[list[int]]:
        if self.eligible is None:
            return self.encoded.ids
        rng = np.random.default_rng([self.tcfg.seed, epoch, AUGMENT_STREAM])
        texts, changed = augment_texts(self.train.texts, self.eligible, self.augment, self.synonyms, rng)
        ids = list(self.encoded.ids)
        fresh = encode_windows(
            self.tokenizer, [texts[i] for i in changed], self.max_length, self.long_text
        ).ids
        for i, row in zip(changed, fresh, strict=True):
            ids[i] = row
        return ids
