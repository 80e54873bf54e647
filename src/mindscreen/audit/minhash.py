"""Near-duplicate texts by MinHash and locality-sensitive hashing, checked exactly.

A text is the set of its character 5-grams (texts arrive normalised: case folded, whitespace
collapsed). Two texts are near-duplicates when the Jaccard similarity of their sets is at least a
threshold (0.8 by default, as in the near-duplicate filtering of Lee et al. 2022, "Deduplicating
Training Data Makes Language Models Better"). MinHash (Broder 1997) gives each text
:data:`NUM_HASHES` hashes; texts that agree on every hash of one band are candidates, and every
candidate is checked with its exact Jaccard similarity, so no reported pair is below the threshold.
The band width is the widest that finds a pair at the threshold with probability >= 0.99, so the
candidates stay few. Time and memory grow linearly with the number of texts: no N x N matrix.

Shapes: ``N`` texts, ``K`` hashes, ``S`` hashed shingle ids, ``P`` pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

SHINGLE_CHARS = 5
NUM_HASHES = 64
MIN_RECALL_AT_THRESHOLD = 0.99
_SHINGLE_SPACE = 1 << 30
_BASE = 1_000_003
_CHECK_CHUNK = 100_000


def shingle_sets(texts: Sequence[str]) -> sp.csr_matrix:
    """(N, S) binary matrix: row i marks the hashed character 5-grams of text i.

    All texts are hashed at once: a polynomial hash of each window of five code points (mod
    2**64), mixed by the SplitMix64 finaliser and cut to 30 bits; windows that cross from one text
    into the next are dropped.
    """
    lengths = np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts))  # (N,)
    chars = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)  # (L,)
    windows = max(len(chars) - SHINGLE_CHARS + 1, 0)
    hashed = np.zeros(windows, dtype=np.uint64)
    for offset in range(SHINGLE_CHARS):
        hashed = hashed * np.uint64(_BASE) + chars[offset : offset + windows]
    owner = np.repeat(np.arange(len(texts)), lengths)[:windows]  # text holding each window's first char
    inside = np.arange(windows) - (np.cumsum(lengths) - lengths)[owner] + SHINGLE_CHARS <= lengths[owner]
    columns = (_mix(hashed[inside]) & np.uint64(_SHINGLE_SPACE - 1)).astype(np.int64)
    ones = np.ones(len(columns), dtype=np.float32)
    matrix = sp.csr_matrix((ones, (owner[inside], columns)), shape=(len(texts), _SHINGLE_SPACE))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # a set: a 5-gram seen twice in a text counts once
    return matrix


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: spreads every input bit over the output bits (uint64 wraps)."""
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def minhash_signatures(shingles: sp.csr_matrix, seed: int = 0) -> np.ndarray:
    """(N, K) MinHash signatures; rows must be non-empty.

    Hash k is ``a_k x + b_k mod 2**32`` with ``a_k`` odd: a permutation of the 32-bit ids, whose
    high bits (which decide the minimum) mix well because the ids are already mixed hashes.
    """
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 1 << 32, size=NUM_HASHES, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
    b = rng.integers(0, 1 << 32, size=NUM_HASHES, dtype=np.uint64).astype(np.uint32)
    ids = shingles.indices.astype(np.uint32)  # (nnz,)
    starts = shingles.indptr[:-1]
    signatures = np.empty((shingles.shape[0], NUM_HASHES), dtype=np.uint32)  # (N, K)
    for k in range(NUM_HASHES):
        signatures[:, k] = np.minimum.reduceat(ids * a[k] + b[k], starts)  # uint32 wraps
    return signatures


def rows_per_band(threshold: float) -> int:
    """The widest band (fewest false candidates) that finds a pair at ``threshold`` with p >= 0.99."""
    for rows in (16, 8, 4, 2, 1):
        bands = NUM_HASHES // rows
        if 1 - (1 - threshold**rows) ** bands >= MIN_RECALL_AT_THRESHOLD:
            return rows
    return 1


def candidate_pairs(signatures: np.ndarray, rows: int, seed: int = 0) -> np.ndarray:
    """(P, 2) pairs ``i < j`` whose signatures agree on all ``rows`` hashes of at least one band.

    Within one band's bucket, each member is paired with the first member and with its
    predecessor (all pairs for buckets of up to three), so a bucket of m texts costs O(m), not
    O(m^2); groups are later joined transitively, and the other bands see other pairs.
    """
    mixers = np.random.default_rng(seed + 1).integers(1, 1 << 62, size=rows, dtype=np.uint64) | np.uint64(1)
    found = []
    for start in range(0, signatures.shape[1] - rows + 1, rows):
        keys = (signatures[:, start : start + rows].astype(np.uint64) * mixers).sum(axis=1)  # (N,) wraps
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        new_run = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]  # (N,)
        same = np.flatnonzero(~new_run)
        if same.size == 0:
            continue
        run_start = np.maximum.accumulate(np.where(new_run, np.arange(len(order)), 0))  # (N,)
        found.append(np.stack([order[same - 1], order[same]], axis=1))
        found.append(np.stack([order[run_start[same]], order[same]], axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.sort(np.concatenate(found), axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0).astype(np.int64)


def jaccard(shingles: sp.csr_matrix, pairs: np.ndarray) -> np.ndarray:
    """(P,) exact Jaccard similarity of the shingle sets of each pair, computed in chunks."""
    sizes = shingles.getnnz(axis=1).astype(np.float64)  # (N,)
    out = np.empty(len(pairs))
    for start in range(0, len(pairs), _CHECK_CHUNK):
        first, second = pairs[start : start + _CHECK_CHUNK].T
        shared = np.asarray(shingles[first].multiply(shingles[second]).sum(axis=1)).ravel()
        out[start : start + _CHECK_CHUNK] = shared / (sizes[first] + sizes[second] - shared)
    return out


def near_duplicate_pairs(
    texts: Sequence[str], threshold: float = 0.8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of distinct texts whose character 5-gram sets have Jaccard similarity >= ``threshold``.

    Args:
        texts: normalised texts, ideally deduplicated first (exact copies are pairs at 1.0).
        threshold: the Jaccard similarity from which two texts count as near-duplicates.
        seed: seed of the hash functions; results are deterministic for one seed.

    Returns:
        ``(pairs, similarity)``: ``(P, 2)`` indices into ``texts`` with ``i < j``, and ``(P,)``
        Jaccard similarities. Texts shorter than five characters have no shingles and no pairs.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
    shingles = shingle_sets(texts)
    kept = np.flatnonzero(shingles.getnnz(axis=1) > 0)
    if kept.size < 2:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    shingles = shingles[kept]
    pairs = candidate_pairs(minhash_signatures(shingles, seed), rows_per_band(threshold), seed)
    similarity = jaccard(shingles, pairs)
    keep = similarity >= threshold
    return kept[pairs[keep]], similarity[keep]
