"""Faster ONNX graphs: fused fp32 and calibrated int8 keep their answers; the check fails on new labels."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from mindscreen.data import resolve_data_dir
from mindscreen.export import OnnxPredictor, check_export
from mindscreen.export.check import LABEL_MISMATCH


def demo_texts(split: str) -> list[str]:
    path = resolve_data_dir("demo") / f"{split}.jsonl"
    return [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def exported(cli_export: tuple[Path, str]) -> Path:
    return cli_export[0]


def mixed_lengths() -> list[str]:
    """Texts of very different lengths in a shuffled order, so that sorting by length matters."""
    texts = demo_texts("test")[:12]
    texts += [" ".join(texts[:4]), texts[5][:9], " ".join(texts[2:9])]
    random.Random(3).shuffle(texts)
    return texts


def test_the_export_is_fused_and_its_int8_is_calibrated_on_dev_texts(exported: Path) -> None:
    meta = json.loads((exported / "export.json").read_text())

    assert meta["fusions"] and all(n > 0 for n in meta["fusions"].values())
    assert meta["int8_method"] == "static_qdq"
    assert meta["check"]["fp32"]["passed"] and meta["check"]["int8"]["passed"]
    assert meta["check"]["int8"]["label_mismatch_limit"] == LABEL_MISMATCH["int8"] == 0.01


@pytest.mark.parametrize("int8", [False, True])
def test_batched_results_equal_one_text_at_a_time_in_input_order(exported: Path, int8: bool) -> None:
    predictor = OnnxPredictor.from_dir(exported, int8=int8, batch_size=4)
    texts = mixed_lengths()

    together = predictor.predict_proba(texts)
    alone = np.concatenate([predictor.predict_proba([text]) for text in texts])

    # static int8: activation ranges are fixed, so batch-mates and padding change nothing but rounding
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert not np.allclose(together, together[::-1], atol=1e-3)  # the texts differ: order is checked


def test_static_int8_answers_do_not_depend_on_which_texts_share_a_batch(exported: Path) -> None:
    predictor = OnnxPredictor.from_dir(exported, int8=True, batch_size=64)
    texts = demo_texts("test")[:24]

    everything = predictor.predict_proba(texts)
    chunked = np.concatenate([predictor.predict_proba(texts[i : i + 5]) for i in range(0, len(texts), 5)])

    np.testing.assert_allclose(everything, chunked, atol=1e-5)


def test_the_int8_check_fails_when_labels_change_even_within_the_probability_tolerance(
    trained_run: Path, exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    honest = OnnxPredictor.predict_proba

    def swapped(self: OnnxPredictor, texts: list[str]) -> np.ndarray:
        probs = honest(self, texts)
        if self.variant != "int8":
            return probs
        flipped = probs.copy()  # push the probabilities just across the thresholds
        flipped[:] = np.where(probs >= self.thresholds, self.thresholds - 0.001, self.thresholds + 0.001)
        return flipped

    monkeypatch.setattr(OnnxPredictor, "predict_proba", swapped)
    result = check_export(trained_run, exported, demo_texts("dev")[:30], tolerance={"int8": 1.0}, save=False)

    assert result["fp32"]["passed"]
    assert result["int8"]["max_abs_diff"] <= 1.0 and result["int8"]["label_mismatch_share"] > 0.5
    assert not result["int8"]["passed"] and not result["passed"]


@pytest.mark.parametrize("calibrated", [False, True])
def test_both_int8_methods_keep_the_head_and_the_narrowing_products_in_float(
    exported: Path, tmp_path: Path, calibrated: bool
) -> None:
    import onnx

    from mindscreen.export.onnx import FP32_FILE
    from mindscreen.export.optimize import HEAD_MATMULS, quantize_int8, weight_matmuls

    source = exported / FP32_FILE
    products = weight_matmuls(source)
    kept = [name for name, (k, n) in products.items() if k > n] + list(products)[-HEAD_MATMULS:]
    calibration = [[2, 10, 11, 12, 3]] * 4 if calibrated else None
    method = quantize_int8(source, tmp_path / "int8.onnx", calibration)
    nodes = onnx.load(str(tmp_path / "int8.onnx")).graph.node
    quantised = {n.name for n in nodes if n.op_type in ("MatMulInteger", "DequantizeLinear")}
    assert method == ("static_qdq" if calibrated else "dynamic") and kept
    for name in kept:  # dynamic renames a Gemm to <name>_MatMul_quant; static feeds it a DequantizeLinear
        assert not any(q.startswith(f"{name}_MatMul_quant") for q in quantised), name
        node = next(n for n in nodes if n.name in (name, f"{name}_MatMul"))
        weights = [i for i in node.input if i.endswith(("_DequantizeLinear_Output", "_quantized"))]
        assert not weights, (name, list(node.input))
