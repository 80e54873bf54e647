"""A TF-IDF + logistic regression screen: cheap, fast, and diverse next to a fine-tuned encoder.

It implements the same ``predict_proba(texts) -> (N, C)`` interface as a trained run, so it can be
evaluated, served or used as an ensemble member. Nothing is pickled: the vectoriser is saved as its
vocabulary and idf weights, the model as arrays, and the transform is recomputed from them.

Shapes: ``N`` texts, ``F`` features, ``C`` classes.

Directory layout::

    LINEAR/
      linear.json          marker: settings, labels, task, feature blocks
      vocabulary.json      the terms of each feature block, in column order
      weights.safetensors  idf per block, coef (C, F), intercept (C,)
      thresholds.json      per-class thresholds (fitted on dev unless disabled)

The vocabulary holds words and word pairs seen in at least ``min_df`` training texts: treat the directory
with the same care as the training data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from mindscreen.contract import FIX, ContractError, check_labels, check_thresholds, safetensors_shapes
from mindscreen.data import Splits
from mindscreen.predictors.protocol import CalibratedPredictor, LoadOptions
from mindscreen.rundir import THRESHOLDS_FILE, read_json, read_thresholds, write_json, write_thresholds
from mindscreen.thresholds import default_thresholds, fit_thresholds_checked

LINEAR_FILE = "linear.json"
VOCABULARY_FILE = "vocabulary.json"
WEIGHTS_FILE = "weights.safetensors"
FORMAT = "mindscreen-linear"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
# Logit given to a class that has no (or only) positive training rows: probability ~6e-6 (or ~1).
CONSTANT_LOGIT = 12.0


class TfidfBlock:
    """One TF-IDF feature block (word or character n-grams) rebuilt from its vocabulary and idf.

    The transform is scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``: counts, ``1 + log(tf)``,
    times idf, L2-normalised rows.
    """

    def __init__(self, analyzer: str, ngram_range: tuple[int, int], vocabulary: list[str], idf: np.ndarray):
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.vocabulary = vocabulary
        self.idf = np.asarray(idf, dtype=np.float64)  # (F_b,)
        self._counter = CountVectorizer(
            analyzer=analyzer,
            ngram_range=ngram_range,
            token_pattern=TOKEN_PATTERN,
            vocabulary={term: i for i, term in enumerate(vocabulary)},
            dtype=np.float64,
        )

    @classmethod
    def fit(
        cls,
        texts: list[str],
        analyzer: str,
        ngram_range: tuple[int, int],
        min_df: int,
        max_features: int | None,
    ) -> TfidfBlock:
        vectorizer = TfidfVectorizer(
            analyzer=analyzer,
            ngram_range=ngram_range,
            token_pattern=TOKEN_PATTERN,
            min_df=min_df,
            max_features=max_features,
            sublinear_tf=True,
        )
        try:
            vectorizer.fit(texts)
        except ValueError as err:  # scikit-learn's message names no setting to change
            raise ValueError(
                f"TF-IDF ({analyzer} {ngram_range[0]}-{ngram_range[1]}-grams) kept no terms: none is seen in "
                f"at least min_df={min_df} of the {len(texts)} training texts; lower min_df"
            ) from err
        terms = [""] * len(vectorizer.vocabulary_)
        for term, column in vectorizer.vocabulary_.items():
            terms[column] = term
        return cls(analyzer, ngram_range, terms, vectorizer.idf_)

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        counts = sp.csr_matrix(self._counter.transform(texts), dtype=np.float64)  # (N, F_b)
        counts.data = 1.0 + np.log(counts.data)
        return normalize(sp.csr_matrix(counts.multiply(self.idf[None, :])), norm="l2")


def fit_logistic(
    features: Any,
    targets: np.ndarray,
    multi_label: bool,
    c: float,
    class_weight: str | None,
    max_iter: int = 2000,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit logistic regression and return its parameters as ``coef (C, F)`` and ``intercept (C,)``.

    Multi-class: one multinomial (softmax) model over ``argmax`` of the targets; a binary model becomes two
    opposite half-logit rows, so softmax gives the same probabilities. Multi-label: one sigmoid model per
    class (one-vs-rest). A class the data never shows (or always shows) gets a constant logit.

    Args:
        features: ``(N, F)`` dense or sparse matrix.
        targets: ``(N, C)`` 0/1 labels, one-hot rows for multi-class.
        multi_label: softmax over classes (False) or one sigmoid per class (True).
        c: inverse regularisation strength.
        class_weight: ``'balanced'`` or None.
        max_iter: L-BFGS iterations.
    """
    num_rows, num_classes = targets.shape
    num_features = features.shape[1]
    coef = np.zeros((num_classes, num_features))
    intercept = np.zeros(num_classes)

    def model() -> LogisticRegression:
        return LogisticRegression(C=c, class_weight=class_weight, max_iter=max_iter)

    if multi_label:
        for k in range(num_classes):
            column = (targets[:, k] >= 0.5).astype(np.int64)
            if column.min() == column.max():
                intercept[k] = CONSTANT_LOGIT if column[0] else -CONSTANT_LOGIT
                continue
            fitted = model().fit(features, column)
            coef[k], intercept[k] = fitted.coef_[0], fitted.intercept_[0]
        return coef, intercept
    classes = np.argmax(targets, axis=1)
    present = np.unique(classes)
    intercept[:] = -CONSTANT_LOGIT  # classes absent from the data
    if present.size == 1:
        intercept[present[0]] = CONSTANT_LOGIT
        return coef, intercept
    fitted = model().fit(features, classes)
    if present.size == 2:  # scikit-learn keeps one row for two classes: logit of the second
        coef[present[0]], coef[present[1]] = -fitted.coef_[0] / 2, fitted.coef_[0] / 2
        intercept[present[0]], intercept[present[1]] = -fitted.intercept_[0] / 2, fitted.intercept_[0] / 2
    else:
        coef[present], intercept[present] = fitted.coef_, fitted.intercept_
    return coef, intercept


class LinearPredictor(CalibratedPredictor):
    """TF-IDF (word 1-2 grams, sublinear tf; optionally char n-grams) + logistic regression.

    Softmax (multinomial) for multi-class, one-vs-rest sigmoids for multi-label; class_weight 'balanced'
    by default. No calibration: its temperature is 1.
    """

    kind: ClassVar[str] = "linear"

    def __init__(
        self,
        blocks: list[TfidfBlock],
        coef: np.ndarray,
        intercept: np.ndarray,
        labels: list[str],
        multi_label: bool,
        thresholds: np.ndarray | None = None,
        settings: dict[str, Any] | None = None,
        thresholds_fitted: bool = False,
    ) -> None:
        if coef.shape != (len(labels), sum(len(b.vocabulary) for b in blocks)):
            raise ValueError(f"coef has shape {coef.shape}; expected (classes, features) matching the blocks")
        self.blocks = blocks
        self.coef = np.asarray(coef, dtype=np.float32)  # (C, F)
        self.intercept = np.asarray(intercept, dtype=np.float32)  # (C,)
        self._labels = list(labels)
        self._multi_label = multi_label
        self.thresholds = (
            default_thresholds(len(labels), multi_label) if thresholds is None else np.asarray(thresholds)
        )
        self.thresholds_fitted = thresholds_fitted
        self.settings = dict(settings or {})
        self.temperature = np.ones(1)

    @property
    def labels(self) -> list[str]:
        return self._labels

    @property
    def multi_label(self) -> bool:
        return self._multi_label

    @classmethod
    def fit(
        cls,
        splits: Splits,
        c: float = 4.0,
        class_weight: str | None = "balanced",
        fit_thresholds: bool = True,
        *,
        char_ngrams: bool = False,
        min_df: int = 2,
        max_features: int | None = None,
        max_iter: int = 2000,
    ) -> LinearPredictor:
        """Fit on ``splits.train``; fit the thresholds on ``splits.dev`` (unless disabled).

        Args:
            splits: the data; only train (fit) and dev (thresholds) are read.
            c: inverse regularisation strength of the logistic regression.
            class_weight: ``'balanced'`` (weights inverse to class frequency) or None.
            fit_thresholds: fit per-class thresholds on dev for F1, kept where they beat argmax / 0.5
                out of fold (:func:`~mindscreen.thresholds.fit_thresholds_checked`); else argmax / 0.5.
            char_ngrams: add a block of character 2-5-grams (within word boundaries).
            min_df: a term must appear in at least this many training texts.
            max_features: keep only the most frequent terms of each block (None: all).
            max_iter: L-BFGS iterations.
        """
        if class_weight not in ("balanced", None):
            raise ValueError(f"class_weight must be 'balanced' or None, got {class_weight!r}")
        texts = splits.train.texts
        blocks = [TfidfBlock.fit(texts, "word", (1, 2), min_df, max_features)]
        if char_ngrams:
            blocks.append(TfidfBlock.fit(texts, "char_wb", (2, 5), min_df, max_features))
        features = sp.hstack([block.transform(texts) for block in blocks], format="csr")  # (N, F)
        coef, intercept = fit_logistic(
            features, splits.train.labels, splits.multi_label, c, class_weight, max_iter
        )
        settings = {
            "c": c,
            "class_weight": class_weight,
            "char_ngrams": char_ngrams,
            "min_df": min_df,
            "max_features": max_features,
            "max_iter": max_iter,
        }
        predictor = cls(blocks, coef, intercept, splits.label_names, splits.multi_label, settings=settings)
        if fit_thresholds:
            probs = predictor.predict_proba(splits.dev.texts)
            predictor.thresholds, _ = fit_thresholds_checked(splits.dev.labels, probs, splits.multi_label)
            predictor.thresholds_fitted = True
        return predictor

    def features(self, texts: list[str]) -> sp.csr_matrix:
        """TF-IDF features ``(N, F)`` of ``texts``."""
        return sp.hstack([block.transform(list(texts)) for block in self.blocks], format="csr")

    def predict_logits(self, texts: list[str]) -> np.ndarray:
        """Logits ``(N, C)``: softmax inputs for multi-class, per-class sigmoid inputs for multi-label."""
        if not texts:
            return np.zeros((0, len(self.labels)))
        return np.asarray(self.features(texts) @ self.coef.T.astype(np.float64)) + self.intercept  # (N, C)

    def save(self, directory: str | Path) -> None:
        """Write the directory described in the module docstring (JSON + safetensors; no pickle)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_json(directory / VOCABULARY_FILE, [block.vocabulary for block in self.blocks])
        tensors = {f"idf_{i}": block.idf for i, block in enumerate(self.blocks)}
        save_file({**tensors, "coef": self.coef, "intercept": self.intercept}, str(directory / WEIGHTS_FILE))
        write_thresholds(directory, self.labels, self.thresholds, self.thresholds_fitted)
        blocks = [{"analyzer": b.analyzer, "ngram_range": list(b.ngram_range)} for b in self.blocks]
        write_json(
            directory / LINEAR_FILE,
            {
                "format": FORMAT,
                "version": 1,
                "labels": self.labels,
                "multi_label": self.multi_label,
                "token_pattern": TOKEN_PATTERN,
                "blocks": blocks,
                "settings": self.settings,
            },
        )

    @classmethod
    def from_dir(
        cls, directory: str | Path, options: LoadOptions | None = None, **changes: Any
    ) -> LinearPredictor:
        """Load a directory written by :meth:`save`, checked against its contract (no options apply)."""
        (options or LoadOptions()).with_changes(**changes)
        directory = Path(directory)
        meta, vocabularies, shapes = _verify(directory)
        tensors = load_file(str(directory / WEIGHTS_FILE))
        blocks = [
            TfidfBlock(spec["analyzer"], tuple(spec["ngram_range"]), vocabulary, tensors[f"idf_{i}"])
            for i, (spec, vocabulary) in enumerate(zip(meta["blocks"], vocabularies, strict=True))
        ]
        labels = meta["labels"]
        fitted = bool(read_json(directory / THRESHOLDS_FILE).get("fitted_on_dev", False))
        return cls(
            blocks,
            tensors["coef"],
            tensors["intercept"],
            labels,
            bool(meta["multi_label"]),
            read_thresholds(directory, labels),
            meta.get("settings"),
            fitted,
        )


def _verify(directory: Path) -> tuple[dict[str, Any], list[list[str]], dict[str, tuple[int, ...]]]:
    """The directory's contract: linear.json in this format, a vocabulary per block, weights of matching
    shapes, thresholds for its labels. Returns linear.json, the vocabularies and the weight shapes."""
    if not is_linear_dir(directory):
        raise FileNotFoundError(
            f"{directory} is not a mindscreen linear model directory (expected {LINEAR_FILE}); "
            "pass a directory written by LinearPredictor.save"
        )
    meta = read_json(directory / LINEAR_FILE)
    if meta.get("format") != FORMAT or meta.get("token_pattern") != TOKEN_PATTERN:
        raise ContractError(
            f"{directory / LINEAR_FILE} is not in the {FORMAT} format version 1 this mindscreen reads"
        )
    labels = check_labels(directory / LINEAR_FILE, meta.get("labels"))
    vocabularies = read_json(directory / VOCABULARY_FILE)
    blocks = meta.get("blocks")
    if not isinstance(vocabularies, list) or not isinstance(blocks, list) or len(vocabularies) != len(blocks):
        raise ContractError(f"{directory / VOCABULARY_FILE} does not hold one vocabulary per block; {FIX}")
    shapes = safetensors_shapes(directory / WEIGHTS_FILE)
    features = sum(len(vocabulary) for vocabulary in vocabularies)
    expected = {"coef": (len(labels), features), "intercept": (len(labels),)}
    expected.update({f"idf_{i}": (len(v),) for i, v in enumerate(vocabularies)})
    wrong = [name for name, shape in expected.items() if shapes.get(name) != shape]
    if wrong:
        raise ContractError(
            f"{directory / WEIGHTS_FILE} holds {', '.join(wrong)} of shapes {[shapes.get(n) for n in wrong]},"
            " "
            f"expected {[expected[n] for n in wrong]} for {len(labels)} labels and {features} features; {FIX}"
        )
    check_thresholds(directory, labels, bool(meta.get("multi_label")))
    return meta, vocabularies, shapes


def is_linear_dir(path: Path) -> bool:
    return (Path(path) / LINEAR_FILE).is_file()
