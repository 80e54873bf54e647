"""Running an ONNX export with ONNX Runtime: the same ``predict_proba`` as the run it came from.

Tokenisation, length-sorted batching, the run's temperature and thresholds are applied exactly as
:class:`mindscreen.predictor.Predictor` applies them. A fast tokenizer (``tokenizer.json``) is run by the
``tokenizers`` library directly, so neither torch nor transformers is imported: a deployment of the
ONNX path needs neither.

Shapes: ``N`` texts, ``B`` batch, ``T`` tokens, ``C`` classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit, softmax

from mindscreen.export.onnx import TOKENIZER_DIR, import_onnxruntime, read_export
from mindscreen.export.variant import choose_variant
from mindscreen.rundir import read_calibration, read_json, read_thresholds
from mindscreen.thresholds import decide_labels


class OnnxPredictor:
    """An exported classifier in an ONNX Runtime session, with its tokenizer, temperature and thresholds."""

    export_check: dict[str, Any] = {}  # export.json's check of the variant loaded ({}: never checked)

    def __init__(
        self,
        session: Any,
        tokenizer: Any,
        labels: list[str],
        multi_label: bool,
        max_length: int,
        thresholds: np.ndarray,
        temperature: np.ndarray,
        batch_size: int = 64,
        variant: str = "fp32",
    ) -> None:
        self.session, self.tokenizer = session, tokenizer  # a TextEncoder
        self._labels, self._multi_label = list(labels), multi_label
        self.max_length, self.batch_size, self.variant = max_length, batch_size, variant
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        self.temperature = np.asarray(temperature, dtype=np.float64)

    @classmethod
    def from_dir(
        cls,
        directory: str | Path,
        int8: bool | None = None,
        threads: int | None = None,
        batch_size: int = 64,
        allow_failed_int8: bool = False,
    ) -> OnnxPredictor:
        """Load an export directory.

        Args:
            directory: written by :func:`~mindscreen.export.export_onnx`.
            int8: run the int8 model (None: int8 when the export has it and its recorded check passed;
                see :mod:`mindscreen.export.variant`).
            threads: ONNX Runtime intra-op threads (None: its default, all cores).
            batch_size: texts per forward pass.
            allow_failed_int8: also run an int8 model whose check failed or never ran.
        """
        ort = import_onnxruntime()
        directory = Path(directory)
        meta = read_export(directory)
        files = meta["files"]
        variant = choose_variant(meta, directory, int8, allow_failed_int8)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads is not None:
            options.intra_op_num_threads = threads
        session = ort.InferenceSession(
            str(directory / files[variant]), options, providers=["CPUExecutionProvider"]
        )
        spec = read_json(directory / "model.json")
        labels = spec["labels"]
        predictor = cls(
            session,
            TextEncoder.load(directory / TOKENIZER_DIR, int(spec["max_length"])),
            labels,
            bool(spec["multi_label"]),
            int(spec["max_length"]),
            read_thresholds(directory, labels),
            read_calibration(directory, labels),
            batch_size,
            variant,
        )
        predictor.export_check = dict((meta.get("check") or {}).get(variant) or {})
        return predictor

    @property
    def labels(self) -> list[str]:
        return self._labels

    @property
    def multi_label(self) -> bool:
        return self._multi_label

    def predict_logits(self, texts: list[str]) -> np.ndarray:
        """Raw logits ``(N, C)`` in input order, batching texts of similar length together."""
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        ids = self.tokenizer.encode(list(texts))
        pad = self.tokenizer.pad_id
        order = np.argsort(-np.array([len(row) for row in ids]), kind="stable")
        out = np.empty((len(ids), len(self.labels)), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            chosen = order[start : start + self.batch_size]
            width = max(len(ids[i]) for i in chosen)
            input_ids = np.full((len(chosen), width), pad, dtype=np.int64)  # (B, T)
            mask = np.zeros((len(chosen), width), dtype=np.int64)  # (B, T)
            for row, i in enumerate(chosen):
                input_ids[row, : len(ids[i])], mask[row, : len(ids[i])] = ids[i], 1
            out[chosen] = self.session.run(["logits"], {"input_ids": input_ids, "attention_mask": mask})[0]
        return out

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities ``(N, C)``: logits / the run's temperature, then sigmoid or softmax."""
        logits = self.predict_logits(texts).astype(np.float64) / self.temperature  # (N, C)
        probs = expit(logits) if self.multi_label else softmax(logits, axis=1)
        return probs.astype(np.float32)

    def decide(self, probs: np.ndarray) -> list[list[str]]:
        """Labels per text, using the run's thresholds."""
        return decide_labels(probs, self.thresholds, self.labels, self.multi_label)


class TextEncoder:
    """Token ids with special tokens, truncated to ``max_length``, as the run's tokenizer makes them."""

    def __init__(self, encode: Any, pad_id: int) -> None:
        self._encode, self.pad_id = encode, pad_id

    @classmethod
    def load(cls, directory: Path, max_length: int) -> TextEncoder:
        """``tokenizer.json`` through the ``tokenizers`` library, else transformers' AutoTokenizer."""
        config = (
            read_json(directory / "tokenizer_config.json")
            if (directory / "tokenizer_config.json").is_file()
            else {}
        )
        if (directory / "tokenizer.json").is_file():
            from tokenizers import Tokenizer

            fast = Tokenizer.from_file(str(directory / "tokenizer.json"))
            fast.no_padding()
            fast.enable_truncation(max_length=max_length)
            pad = config.get("pad_token")
            pad_id = fast.token_to_id(pad) if isinstance(pad, str) else None
            return cls(lambda texts: [e.ids for e in fast.encode_batch(texts)], pad_id or 0)
        from transformers import AutoTokenizer

        slow = AutoTokenizer.from_pretrained(directory)
        return cls(
            lambda texts: slow(texts, truncation=True, max_length=max_length)["input_ids"],
            slow.pad_token_id or 0,
        )

    def encode(self, texts: list[str]) -> list[list[int]]:
        return [list(ids) for ids in self._encode(texts)] if texts else []
