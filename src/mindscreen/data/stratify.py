"""A deterministic, stratified train/dev/test split of one labelled file.

Rows are grouped by a stratum key (the label for multi-class; for multi-label the row's
rarest label, so rare labels reach every split) and shuffled within groups by the seed.
Walking the grouped rows, each goes to the split furthest below its target share, so
every stratum is divided in proportion (within a row or two) however small it is, and
the split never fails for a tiny class. The first row of each stratum always goes to
train, so train sees every stratum. Same keys, fractions and seed: same split.

Shapes: ``N`` rows, ``C`` labels.
"""

from __future__ import annotations

import numpy as np


def stratum_keys(labels: np.ndarray) -> np.ndarray:
    """One stratum per row: the column of its rarest label, or -1 for a row without labels.

    Args:
        labels: (N, C) 0/1 matrix; multi-class rows are one-hot, so the key is the class.

    Returns:
        (N,) int64 keys.
    """
    positive = labels > 0  # (N, C)
    counts = positive.sum(axis=0)  # (C,)
    # Ties between equally rare labels go to the lower column, so keys are deterministic.
    keys = np.where(positive, counts[None, :], np.iinfo(np.int64).max).argmin(axis=1)  # (N,)
    keys[~positive.any(axis=1)] = -1
    return keys.astype(np.int64)


def split_rows(
    keys: np.ndarray, dev_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Divide rows into train, dev and test, stratified by ``keys``.

    Args:
        keys: (N,) stratum of each row, e.g. from :func:`stratum_keys`.
        dev_fraction: share of rows for dev (0 for none).
        test_fraction: share of rows for test (0 for none).
        seed: seed of the shuffle within each stratum.

    Returns:
        0-based row positions of train, dev and test, each in file order.
    """
    if not 0 <= dev_fraction + test_fraction < 1:
        raise ValueError(
            f"dev and test fractions must sum to less than 1, found {dev_fraction + test_fraction}"
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(keys))
    order = order[np.argsort(keys[order], kind="stable")]  # grouped by stratum, shuffled within
    shares = (1.0 - dev_fraction - test_fraction, dev_fraction, test_fraction)
    counts = [0, 0, 0]
    assigned = np.empty(len(keys), dtype=np.int64)
    previous = None
    for step, row in enumerate(order.tolist(), start=1):
        key = int(keys[row])
        if key == previous:
            deficits = [share * step - count for share, count in zip(shares, counts, strict=True)]
            split = max(range(3), key=deficits.__getitem__)
        else:
            split = 0
        counts[split] += 1
        assigned[row] = split
        previous = key
    train, dev, test = (np.flatnonzero(assigned == split) for split in range(3))
    return train, dev, test
