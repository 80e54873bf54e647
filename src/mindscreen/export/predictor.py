"""Running an ONNX export (ONNX Runtime, or OpenVINO): the same ``predict_proba`` as the run it came from.

Tokenisation, length-sorted batching, the run's temperature and thresholds are applied exactly as
:class:`mindscreen.predictors.run.RunPredictor` applies them. A fast tokenizer (``tokenizer.json``) is run
by the ``tokenizers`` library directly, so neither torch nor transformers is imported: a deployment of the
ONNX path needs neither.

Shapes: ``N`` texts, ``B`` batch, ``T`` tokens, ``C`` classes.
"""

from __future__ import annotations

import logging
import shutil
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mindscreen.contract import FIX, ContractError, check_calibration, check_thresholds, check_tokenizer_dir
from mindscreen.export.onnx import TOKENIZER_DIR, read_export
from mindscreen.export.runtimes import OPENVINO_BF16, RUN_TEXTS, open_session
from mindscreen.export.variant import choose_variant
from mindscreen.long_text import Windows, aggregate_logits, cut_windows, full_encodings
from mindscreen.predictors.protocol import CalibratedPredictor, LoadOptions
from mindscreen.rundir import read_calibration, read_json, read_model_json, read_thresholds, write_thresholds

logger = logging.getLogger(__name__)


class OnnxPredictor(CalibratedPredictor):
    """An exported classifier in an ONNX Runtime (or OpenVINO) session, with its tokenizer, temperature
    and thresholds."""

    kind: ClassVar[str] = "onnx"
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
        self.source: Path | None = None  # the directory it was loaded from
        self.runtime, self.precision = "onnxruntime", "fp32"  # what runs the graph, in what arithmetic
        self.run_texts = RUN_TEXTS[self.runtime]  # texts per session.run

    @classmethod
    def from_dir(
        cls, directory: str | Path, options: LoadOptions | None = None, **changes: Any
    ) -> OnnxPredictor:
        """Load an export directory written by :func:`~mindscreen.export.export_onnx`, checked first.

        Reads ``options.int8`` (run the int8 model; None: int8 when the export has it and its recorded
        check passed, see :mod:`mindscreen.export.variant`), ``options.allow_failed_int8`` (also run an
        int8 model whose check failed or never ran), ``runtime`` (ONNX Runtime, or OpenVINO, which
        also reads ``precision``), ``threads`` (the runtime's threads; None: its default, all cores)
        and ``batch_size``.
        """
        options = (options or LoadOptions()).with_changes(**changes)
        directory = Path(directory)
        meta, spec = _verify(directory)
        variant = choose_variant(meta, directory, options.int8, options.allow_failed_int8)
        session = open_session(directory / meta["files"][variant], options)
        labels = spec["labels"]
        predictor = cls(
            session,
            TextEncoder.load(
                directory / TOKENIZER_DIR, int(spec["max_length"]), spec.get("long_text", "truncate")
            ),
            labels,
            bool(spec["multi_label"]),
            int(spec["max_length"]),
            read_thresholds(directory, labels),
            read_calibration(directory, labels),
            options.batch_size,
            variant,
        )
        predictor.source = directory
        predictor.export_check = dict(_recorded_check(meta, variant, options) or {})
        on_bf16 = options.runtime == "openvino" and options.precision == "bf16"
        if on_bf16 and predictor.export_check.get("passed") is False:
            logger.warning(
                "%s: running on OpenVINO in bf16 although that failed its recorded check (max |prob "
                "torch - prob onnx| %.2e, labels differ on %.1f%% of texts); --precision fp32 keeps torch's",
                directory.name,
                predictor.export_check["max_abs_diff"],
                100 * predictor.export_check["label_mismatch_share"],
            )
        predictor.runtime = options.runtime
        predictor.precision = options.precision if options.runtime == "openvino" else "fp32"
        predictor.run_texts = RUN_TEXTS[options.runtime]
        return predictor

    @property
    def labels(self) -> list[str]:
        return self._labels

    @property
    def multi_label(self) -> bool:
        return self._multi_label

    def predict_logits(self, texts: list[str]) -> np.ndarray:
        """Raw logits ``(N, C)`` in input order, batching windows of similar length together (at most
        ``batch_size`` and ``run_texts`` per batch); a long text's windows (the run's ``long_text``)
        are aggregated to one row, as the run does."""
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        windows = self.tokenizer.windows(list(texts))  # one per text, more under long_text=chunks
        ids = windows.ids
        pad = self.tokenizer.pad_id
        order = np.argsort(-np.array([len(row) for row in ids]), kind="stable")
        out = np.empty((len(ids), len(self.labels)), dtype=np.float32)
        step = min(self.batch_size, self.run_texts)
        for start in range(0, len(order), step):
            chosen = order[start : start + step]
            width = max(len(ids[i]) for i in chosen)
            input_ids = np.full((len(chosen), width), pad, dtype=np.int64)  # (B, T)
            mask = np.zeros((len(chosen), width), dtype=np.int64)  # (B, T)
            for row, i in enumerate(chosen):
                input_ids[row, : len(ids[i])], mask[row, : len(ids[i])] = ids[i], 1
            out[chosen] = self.session.run(["logits"], {"input_ids": input_ids, "attention_mask": mask})[0]
        return aggregate_logits(out, windows, self.multi_label)

    def save(self, directory: str | Path) -> None:
        """Copy the export into ``directory`` (with this predictor's thresholds): an export ``from_dir``
        loads."""
        if self.source is None:
            raise ValueError("this OnnxPredictor was not loaded from a directory; export the run instead")
        directory = Path(directory)
        if directory.resolve() != self.source.resolve():
            shutil.copytree(self.source, directory, dirs_exist_ok=True)
        write_thresholds(directory, self.labels, self.thresholds, fitted=True)


class TextEncoder:
    """Token-id windows with special tokens, cut under the run's long-text mode as the run cuts them."""

    def __init__(
        self, encode: Any, pad_id: int, backend: Any = None, max_length: int = 0, long_text: str = "truncate"
    ) -> None:
        self._encode, self.pad_id = encode, pad_id  # encode: texts -> (full ids, special-token masks)
        self.backend = backend  # the tokenizer itself, for character offsets (mindscreen.explain)
        self.max_length, self.long_text = max_length, long_text

    @classmethod
    def load(cls, directory: Path, max_length: int, long_text: str = "truncate") -> TextEncoder:
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
            fast.no_truncation()  # windows are cut by mindscreen.long_text, as for the run
            pad = config.get("pad_token")
            pad_id = fast.token_to_id(pad) if isinstance(pad, str) else None

            def encode(texts: list[str]) -> tuple[list[list[int]], list[list[bool]]]:
                encodings = fast.encode_batch(texts)
                return [e.ids for e in encodings], [
                    [bool(s) for s in e.special_tokens_mask] for e in encodings
                ]

            return cls(encode, pad_id or 0, fast, max_length, long_text)
        from transformers import AutoTokenizer

        slow = AutoTokenizer.from_pretrained(directory)
        return cls(partial(full_encodings, slow), slow.pad_token_id or 0, slow, max_length, long_text)

    def windows(self, texts: list[str]) -> Windows:
        """The windows of ``texts`` (:func:`mindscreen.long_text.window_positions`)."""
        if not texts:
            return Windows([], np.zeros(0, dtype=np.int64), 0)
        ids, special = self._encode(texts)
        return cut_windows(ids, special, self.max_length, self.long_text)

    def encode(self, texts: list[str]) -> list[list[int]]:
        """One window per text: the ids of a ``truncate`` or ``head_tail`` run (``chunks``: see windows)."""
        return self.windows(texts).ids


def _recorded_check(meta: dict[str, Any], variant: str, options: LoadOptions) -> dict[str, Any] | None:
    """The check in ``export.json`` of what runs: the variant on ONNX Runtime (OpenVINO at fp32 gives
    its answers within 1e-5), the fp32 model's ``openvino_bf16`` row on OpenVINO in bf16; None for
    int8 on OpenVINO, which no check ran."""
    checks = meta.get("check") or {}
    if options.runtime == "openvino" and options.precision == "bf16":
        return checks.get(OPENVINO_BF16) if variant == "fp32" else None
    if options.runtime == "openvino" and variant == "int8":
        return None
    row: dict[str, Any] | None = checks.get(variant)
    return row


def _verify(directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The export's contract: export.json and the model files it lists, model.json, the tokenizer,
    thresholds and calibration for its labels. Returns export.json and model.json."""
    meta = read_export(directory)
    files = meta.get("files")
    if not isinstance(files, dict) or "fp32" not in files:
        raise ContractError(f"{directory / 'export.json'} lists no fp32 model file; {FIX}")
    for name in files.values():
        if not (directory / name).is_file() or (directory / name).stat().st_size == 0:
            raise ContractError(f"{directory / name} is missing or empty; {FIX}")
    spec = read_model_json(directory / "model.json")
    check_tokenizer_dir(directory / TOKENIZER_DIR)
    check_thresholds(directory, spec["labels"], bool(spec["multi_label"]))
    check_calibration(directory, spec["labels"])
    return meta, spec
