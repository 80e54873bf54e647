"""The ensemble as a predictor: the same ``predict_proba(texts) -> (N, C)`` interface as a single run.

Shapes: ``M`` members, ``N`` texts, ``C`` classes.

Directory layout (``build_ensemble`` writes it; :meth:`Ensemble.from_dir` reads it)::

    ENSEMBLE/
      ensemble.json        marker: labels, task, method, members (kind, path, temperature, weight)
      thresholds.json      per-class thresholds fitted on the ensemble's dev probabilities
      stacking.safetensors the stacker's parameters (method 'stacking' only)
      members/NAME/        TF-IDF members (linear model directories)
      config.yaml          the resolved spec (its data section tells evaluate/predict the columns)
      metrics.json         dev and test metrics of the ensemble, the plain average and each member
      cache/               member logits on dev and test (see mindscreen.ensemble.cache)

Run members are referred to by path (relative to the ensemble directory, with the absolute path as a
fallback), not copied: keep them where they are, or move them together with the ensemble.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mindscreen.contract import FIX, ContractError, check_labels, check_thresholds
from mindscreen.ensemble.members import Member
from mindscreen.ensemble.stacking import STACKING_FILE, Stacker
from mindscreen.predictors import LoadOptions
from mindscreen.probabilities import to_logits
from mindscreen.rundir import read_json, read_thresholds, write_json, write_thresholds
from mindscreen.thresholds import decide_labels

ENSEMBLE_FILE = "ensemble.json"
MEMBERS_DIR = "members"
FORMAT = "mindscreen-ensemble"
METHODS = ("weighted", "average", "stacking")


class Ensemble:
    """Members, how their calibrated probabilities combine, and the ensemble's thresholds."""

    kind: ClassVar[str] = "ensemble"

    def __init__(
        self,
        members: list[Member],
        method: str,
        thresholds: np.ndarray,
        weights: np.ndarray | None = None,
        stacker: Stacker | None = None,
        name: str = "ensemble",
    ) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member")
        for member in members[1:]:
            if member.labels != members[0].labels or member.multi_label != members[0].multi_label:
                raise ValueError(
                    f"members {members[0].name!r} and {member.name!r} predict different label sets "
                    f"({members[0].labels} vs {member.labels}); members must share labels and their order"
                )
        if method not in METHODS:
            raise ValueError(f"unknown combination method {method!r}; choose one of: {', '.join(METHODS)}")
        if method == "stacking" and stacker is None:
            raise ValueError("method 'stacking' needs a fitted Stacker")
        if method != "stacking":
            weights = _check_weights(weights, len(members))
        self.members = members
        self.method = method
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        self.weights = weights
        self.stacker = stacker
        self.name = name

    @property
    def labels(self) -> list[str]:
        return self.members[0].labels

    @property
    def multi_label(self) -> bool:
        return self.members[0].multi_label

    @property
    def member_names(self) -> list[str]:
        return [member.name for member in self.members]

    def member_probas(self, texts: list[str]) -> np.ndarray:
        """Each member's calibrated probabilities ``(M, N, C)``, e.g. to flag texts members disagree on."""
        texts = list(texts)
        return np.stack([member.predict_proba(texts) for member in self.members])

    def combine(self, member_probs: np.ndarray) -> np.ndarray:
        """The ensemble's probabilities ``(N, C)`` from member probabilities ``(M, N, C)``."""
        if self.stacker is not None and self.method == "stacking":
            return self.stacker.predict_proba(member_probs)
        assert self.weights is not None
        return np.tensordot(self.weights, member_probs, axes=1)  # (N, C)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Probabilities ``(N, C)``: sigmoids for multi-label, rows summing to one for multi-class."""
        return self.combine(self.member_probas(texts))

    def predict_logits(self, texts: list[str]) -> np.ndarray:
        """``(N, C)`` log-odds (multi-label) or log-probabilities (multi-class) of the combined probabilities:
        the ensemble combines probabilities, so these are what a sigmoid or softmax turns back into them."""
        return to_logits(self.predict_proba(texts), self.multi_label)

    def decide(self, probs: np.ndarray) -> list[list[str]]:
        """Labels per text from probabilities, using the ensemble's per-class thresholds."""
        return decide_labels(probs, self.thresholds, self.labels, self.multi_label)

    def predict(self, texts: list[str]) -> list[list[str]]:
        """Labels per text (a multi-label text may get none)."""
        return self.decide(self.predict_proba(texts))

    def save(self, directory: str | Path) -> None:
        """Write ensemble.json, thresholds.json, the stacker and the small members (TF-IDF) into
        ``directory``; members of other kinds are referred to by path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        entries = []
        for m, member in enumerate(self.members):
            own_folder = directory / MEMBERS_DIR / member.name
            if member.model_kind.embed and member.path.resolve() != own_folder.resolve():
                member.predictor.save(own_folder)  # the ensemble directory holds its small members
                member.path = own_folder
            entries.append(
                _member_entry(member, directory, None if self.weights is None else self.weights[m])
            )
        if self.stacker is not None:
            self.stacker.save(directory)
        else:
            (directory / STACKING_FILE).unlink(missing_ok=True)  # left by an earlier build in this folder
        write_thresholds(directory, self.labels, self.thresholds, fitted=True)
        write_json(
            directory / ENSEMBLE_FILE,
            {
                "format": FORMAT,
                "version": 1,
                "name": self.name,
                "labels": self.labels,
                "multi_label": self.multi_label,
                "method": self.method,
                "members": entries,
            },
        )

    @classmethod
    def from_dir(cls, directory: str | Path, options: LoadOptions | None = None, **changes: Any) -> Ensemble:
        """Load an ensemble directory, checked against its contract.

        Args:
            directory: written by :func:`mindscreen.ensemble.build_ensemble` or :meth:`save`.
            options: how members load: ``device`` for run members, and ``lazy`` to load each member's
                model on its first prediction instead of now; ``changes`` override single fields.
        """
        options = (options or LoadOptions()).with_changes(**changes)
        directory = Path(directory)
        meta = _verify(directory)
        members = [
            Member(e["name"], _member_path(directory, e), e["kind"], float(e["temperature"]), options)
            for e in meta["members"]
        ]
        if not options.lazy:
            members = [member.load() for member in members]
        labels, multi_label = meta["labels"], bool(meta["multi_label"])
        for member in members:
            if member.labels != labels:
                raise ValueError(
                    f"member {member.name!r} ({member.path}) now predicts labels {member.labels}, but the "
                    f"ensemble was built for {labels}; the member changed since: rebuild the ensemble"
                )
        weights = None if meta["method"] == "stacking" else np.array([e["weight"] for e in meta["members"]])
        stacker = Stacker.load(directory, multi_label) if meta["method"] == "stacking" else None
        thresholds = read_thresholds(directory, labels)
        return cls(members, meta["method"], thresholds, weights, stacker, meta.get("name", "ensemble"))


def _verify(directory: Path) -> dict[str, Any]:
    """The directory's contract: ensemble.json in this format with well-formed members, thresholds for its
    labels, the stacker's file for stacking. Each member is checked by its own kind when it loads."""
    if not is_ensemble_dir(directory):
        raise FileNotFoundError(
            f"{directory} is not a mindscreen ensemble directory (expected {ENSEMBLE_FILE}); "
            "pass the output_dir of `mindscreen ensemble`"
        )
    path = directory / ENSEMBLE_FILE
    meta = read_json(path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != 1:
        raise ContractError(f"{path} is not in the {FORMAT} format version 1")
    labels = check_labels(path, meta.get("labels"))
    members = meta.get("members")
    keys = {"name", "kind", "path", "temperature", "weight"}
    if (
        not isinstance(members, list)
        or not members
        or not all(isinstance(e, dict) and keys <= set(e) for e in members)
    ):
        raise ContractError(f"{path} must list members, each with {', '.join(sorted(keys))}; {FIX}")
    if meta.get("method") not in METHODS:
        raise ContractError(
            f"{path} names method {meta.get('method')!r}; expected one of {', '.join(METHODS)}"
        )
    if meta["method"] == "stacking" and not (directory / STACKING_FILE).is_file():
        raise ContractError(f"{directory / STACKING_FILE} is missing: method 'stacking' needs it; {FIX}")
    check_thresholds(directory, labels, bool(meta.get("multi_label")))
    return meta


def is_ensemble_dir(path: str | Path) -> bool:
    return (Path(path) / ENSEMBLE_FILE).is_file()


def _check_weights(weights: np.ndarray | None, num_members: int) -> np.ndarray:
    array = (
        np.full(num_members, 1.0 / num_members) if weights is None else np.asarray(weights, dtype=np.float64)
    )
    if array.shape != (num_members,) or np.any(array < 0) or not np.isclose(array.sum(), 1.0):
        raise ValueError(
            f"weights must be {num_members} non-negative numbers summing to one, "
            f"got {np.round(array, 6).tolist()}"
        )
    return array


def _member_entry(member: Member, directory: Path, weight: float | None) -> dict[str, Any]:
    absolute = member.path.resolve()
    return {
        "name": member.name,
        "kind": member.kind,
        "path": os.path.relpath(absolute, directory.resolve()),
        "absolute_path": str(absolute),
        "temperature": member.temperature,
        "weight": weight,
    }


def _member_path(directory: Path, entry: dict[str, Any]) -> Path:
    relative = directory / entry["path"]
    if relative.exists():
        return relative
    absolute = Path(entry.get("absolute_path", ""))
    if entry.get("absolute_path") and absolute.exists():
        return absolute
    raise FileNotFoundError(
        f"member {entry['name']!r} of {directory} not found at {relative} or {absolute}; the ensemble refers "
        "to run directories by path: move them together with the ensemble, or rebuild it"
    )
