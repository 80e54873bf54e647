"""Exact and near-duplicate texts within and across splits, and duplicates whose labels disagree.

Exact duplicates are texts equal after :func:`~mindscreen.data.quality.normalize_text` (the
definition ``train`` warns with). Near-duplicates are distinct normalised texts joined by
:func:`~mindscreen.audit.minhash.near_duplicate_pairs` (Jaccard similarity of character 5-grams
>= a threshold); a near group is a connected component of such pairs, with every exact copy of
its texts. Rows with an unusable text (missing, empty, blank) take no part.

Leakage is what inflates dev/test scores: rows of a later split (dev, test) whose text, or a
near-duplicate of it, is also in an earlier split (train, dev).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from mindscreen.audit.minhash import SHINGLE_CHARS, near_duplicate_pairs
from mindscreen.audit.table import AuditData
from mindscreen.data.quality import normalize_text


@dataclass(frozen=True)
class DuplicateGroup:
    """Rows holding the same text (exact) or nearly the same texts (near).

    Attributes:
        members: pooled row indices (see :class:`~mindscreen.audit.table.AuditData`).
        labels: the distinct label sets the members carry (rows without a label left out).
        similarity: 1.0 for exact groups; for near groups, the lowest Jaccard similarity among the
            pairs that join the group.
    """

    members: np.ndarray
    labels: list[tuple[str, ...]]
    similarity: float

    @property
    def conflicting(self) -> bool:
        """Whether the members carry different labels."""
        return len(self.labels) > 1

    def to_dict(self, data: AuditData) -> dict[str, Any]:
        """Row numbers by split, labels, similarity; never the texts."""
        return {
            "rows": data.locate(self.members),
            "labels": [list(labels) for labels in self.labels],
            "conflicting": self.conflicting,
            "similarity": round(self.similarity, 4),
        }


@dataclass(frozen=True)
class Duplicates:
    """The exact and near-duplicate groups of a data set, worst first."""

    exact: list[DuplicateGroup]
    near: list[DuplicateGroup]
    threshold: float

    def summary(self, data: AuditData) -> dict[str, Any]:
        """Counts per split, leakage between splits, and every group (row numbers only)."""
        split_of = data.split_of
        within = {split.name: 0 for split in data.splits}
        for group in self.exact:
            for s, copies in zip(*np.unique(split_of[group.members], return_counts=True), strict=True):
                within[data.splits[s].name] += int(copies) - 1
        return {
            "exact": {
                "definition": "equal after Unicode NFKC, case folding and collapsing whitespace",
                "groups": len(self.exact),
                "extra_copies": sum(len(group.members) - 1 for group in self.exact),
                "extra_copies_within_split": within,
                "conflicting_groups": sum(group.conflicting for group in self.exact),
                "list": [group.to_dict(data) for group in self.exact],
            },
            "near": {
                "definition": f"Jaccard similarity of character {SHINGLE_CHARS}-grams >= {self.threshold}",
                "groups": len(self.near),
                "rows": sum(len(group.members) for group in self.near),
                "conflicting_groups": sum(group.conflicting for group in self.near),
                "list": [group.to_dict(data) for group in self.near],
            },
            "leakage": self.leakage(data),
        }

    def leakage(self, data: AuditData) -> list[dict[str, Any]]:
        """Per pair of splits (earlier, later): shared texts and the later split's affected rows."""
        split_of = data.split_of
        found = []
        for first, second in combinations(range(len(data.splits)), 2):
            exact = [g.members for g in self.exact if _spans(split_of[g.members], first, second)]
            near = exact + [g.members for g in self.near if _spans(split_of[g.members], first, second)]
            found.append(
                {
                    "from": data.splits[first].name,
                    "to": data.splits[second].name,
                    "exact_texts": len(exact),
                    "exact_rows": _rows_in(exact, split_of, second),
                    "exact_or_near_rows": _rows_in(near, split_of, second),
                }
            )
        return found


def _spans(splits: np.ndarray, first: int, second: int) -> bool:
    return bool((splits == first).any() and (splits == second).any())


def _rows_in(groups: list[np.ndarray], split_of: np.ndarray, split: int) -> int:
    rows = {int(i) for members in groups for i in members if split_of[i] == split}
    return len(rows)


def find_duplicates(data: AuditData, threshold: float = 0.8, seed: int = 0) -> Duplicates:
    """Exact and near-duplicate groups among the rows with a usable text.

    Args:
        data: the audited rows.
        threshold: Jaccard similarity of character 5-grams from which texts are near-duplicates.
        seed: seed of the MinHash functions.
    """
    usable = np.flatnonzero(data.usable())
    texts = data.texts
    key_ids: dict[str, int] = {}
    key_of = np.array([key_ids.setdefault(normalize_text(texts[i]), len(key_ids)) for i in usable], dtype=int)
    order = np.argsort(key_of, kind="stable")
    rows_of_key = np.split(usable[order], np.flatnonzero(np.diff(key_of[order])) + 1) if usable.size else []
    labels = data.labels
    exact = [_group(members, labels, 1.0) for members in rows_of_key if len(members) > 1]
    pairs, similarity = near_duplicate_pairs(list(key_ids), threshold, seed)
    near = _near_groups(pairs, similarity, rows_of_key, labels)
    return Duplicates(_worst_first(exact, data), _worst_first(near, data), threshold)


def _near_groups(
    pairs: np.ndarray, similarity: np.ndarray, rows_of_key: list[np.ndarray], labels: list[Any]
) -> list[DuplicateGroup]:
    """Connected components of the near-duplicate pairs (over distinct texts) as groups of rows."""
    if len(pairs) == 0:
        return []
    keys = len(rows_of_key)
    graph = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(keys, keys))
    _, component = connected_components(graph, directed=False)
    lowest = np.ones(component.max() + 1)
    np.minimum.at(lowest, component[pairs[:, 0]], similarity)
    order = np.argsort(component, kind="stable")
    keys_of = np.split(order, np.flatnonzero(np.diff(component[order])) + 1)  # keys of each component
    return [
        _group(np.concatenate([rows_of_key[k] for k in group]), labels, lowest[component[group[0]]])
        for group in keys_of
        if len(group) > 1
    ]


def _group(members: np.ndarray, labels: list[Any], similarity: float) -> DuplicateGroup:
    distinct = sorted({labels[i] for i in members if labels[i] is not None})
    return DuplicateGroup(np.sort(members), distinct, float(similarity))


def _worst_first(groups: list[DuplicateGroup], data: AuditData) -> list[DuplicateGroup]:
    """Conflicting groups first, then groups spanning more splits, then larger, then file order."""
    split_of = data.split_of
    return sorted(
        groups,
        key=lambda g: (not g.conflicting, -len(set(split_of[g.members])), -len(g.members), int(g.members[0])),
    )
