"""ONNX exports on OpenVINO (``LoadOptions.runtime``): ONNX Runtime's answers at fp32, bf16 where the CPU
has it, safe under concurrent calls, through the CLI and the service."""

from __future__ import annotations

import json
import logging
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from mindscreen.contract import ContractError
from mindscreen.export import OnnxPredictor
from mindscreen.export.variant import describe_variant
from mindscreen.predictors import LoadOptions
from mindscreen.serving import ServeSettings

from .conftest import demo_texts
from .serving_support import live_server

openvino = pytest.importorskip("openvino", reason="needs the extra: pip install 'mindscreen[openvino]'")
NATIVE_BF16 = "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


@pytest.fixture(scope="module")
def export(model_dirs: dict[str, Path]) -> Path:
    return model_dirs["onnx"]


def test_openvino_at_fp32_gives_onnx_runtime_s_answers(export: Path) -> None:
    texts = demo_texts()[:48]
    ort = OnnxPredictor.from_dir(export)
    ov = OnnxPredictor.from_dir(export, runtime="openvino")

    np.testing.assert_allclose(ov.predict_proba(texts), ort.predict_proba(texts), atol=1e-5)
    assert ov.predict(texts) == ort.predict(texts)
    assert describe_variant(ov) == {**describe_variant(ort), "runtime": "openvino"}
    assert (describe_variant(ort)["runtime"], describe_variant(ort)["precision"]) == ("onnxruntime", "fp32")


@pytest.mark.skipif(not NATIVE_BF16, reason="this CPU has no native bfloat16")
def test_openvino_at_bf16_runs_in_bfloat16_and_keeps_the_decisions(export: Path) -> None:
    texts = demo_texts()[:64]
    exact = OnnxPredictor.from_dir(export, runtime="openvino")
    rounded = OnnxPredictor.from_dir(export, runtime="openvino", precision="bf16")

    fp32, bf16 = exact.predict_proba(texts), rounded.predict_proba(texts)

    assert 0 < np.abs(fp32 - bf16).max() < 0.05  # bfloat16 arithmetic ran, and stayed close
    same = [a == b for a, b in zip(exact.decide(fp32), rounded.decide(bf16), strict=True)]
    assert sum(same) >= 0.95 * len(texts)
    assert describe_variant(rounded)["precision"] == "bf16"


@pytest.mark.skipif(not NATIVE_BF16, reason="this CPU has no native bfloat16")
def test_the_export_check_records_openvino_bf16_and_a_service_reports_it(
    trained_run: Path, export: Path, tmp_path: Path
) -> None:
    from mindscreen.export import check_export

    copy = Path(shutil.copytree(export, tmp_path / "export"))
    before = describe_variant(OnnxPredictor.from_dir(copy, runtime="openvino", precision="bf16"))
    check = check_export(trained_run, copy, demo_texts()[:40])

    row = check["openvino_bf16"]
    assert 0 < row["max_abs_diff"] <= row["tolerance"] == 0.05 and row["label_mismatch_limit"] == 0.01
    assert check["passed"] == check["fp32"]["passed"]  # the verdict stays about the files written
    assert before["check"] == "unchecked"  # no record: not the fp32 check of another runtime
    bf16 = OnnxPredictor.from_dir(copy, runtime="openvino", precision="bf16")
    described = describe_variant(bf16)
    assert bf16.export_check == row
    assert (described["check"], described["max_abs_diff"]) == (
        "passed" if row["passed"] else "failed",
        row["max_abs_diff"],
    )
    assert OnnxPredictor.from_dir(copy, runtime="openvino").export_check == check["fp32"]


def test_concurrent_calls_get_the_answers_of_calls_one_at_a_time(export: Path) -> None:
    predictor = OnnxPredictor.from_dir(export, runtime="openvino")
    texts = demo_texts()[:64]
    batches = [texts[i : i + 8] for i in range(0, len(texts), 8)]
    alone = [predictor.predict_proba(batch) for batch in batches]

    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(predictor.predict_proba, batches * 3))

    for got, expected in zip(together, alone * 3, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_onnx_runtime_warns_that_bf16_needs_openvino_and_runs_fp32(
    export: Path, caplog: pytest.LogCaptureFixture
) -> None:
    texts = demo_texts()[:8]
    with caplog.at_level(logging.WARNING, logger="mindscreen.export.runtimes"):
        predictor = OnnxPredictor.from_dir(export, precision="bf16")
    assert "--runtime openvino" in caplog.text
    assert predictor.precision == "fp32"
    plain = OnnxPredictor.from_dir(export)
    np.testing.assert_array_equal(predictor.predict_proba(texts), plain.predict_proba(texts))


def test_an_unknown_runtime_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="onnxruntime, openvino"):
        LoadOptions(runtime="tensorrt")


def test_a_model_openvino_cannot_read_is_refused_naming_the_file(export: Path, tmp_path: Path) -> None:
    broken = Path(shutil.copytree(export, tmp_path / "broken"))
    (broken / "model.onnx").write_bytes(b"not an onnx graph")
    with pytest.raises(ContractError, match=r"model\.onnx cannot be loaded by OpenVINO"):
        OnnxPredictor.from_dir(broken, runtime="openvino")


def test_predict_cli_takes_the_runtime(export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mindscreen.cli import main

    text = "exams next week and i cannot sleep"
    assert main(["-q", "predict", str(export), text]) == 0
    ort = json.loads(capsys.readouterr().out)
    assert main(["-q", "predict", str(export), text, "--runtime", "openvino"]) == 0
    ov = json.loads(capsys.readouterr().out)
    assert ov["labels"] == ort["labels"]
    assert ov["probabilities"] == pytest.approx(ort["probabilities"], abs=1e-5)


def test_the_service_runs_an_export_on_openvino_and_says_so(export: Path) -> None:
    from mindscreen.pipeline import load_pipeline

    precision = "bf16" if NATIVE_BF16 else "fp32"
    settings = ServeSettings(model_path=str(export), runtime="openvino", precision=precision)
    with live_server(settings, None) as base:
        info = httpx.get(f"{base}/v1/model", timeout=10).json()["model_variant"]
        answer = httpx.post(f"{base}/v1/classify", json={"text": "i cannot sleep"}, timeout=10)
    assert (info["variant"], info["runtime"], info["precision"]) == ("onnx_fp32", "openvino", precision)
    served = answer.json()["results"][0]
    local = load_pipeline(export, runtime="openvino", precision=precision).classify(["i cannot sleep"])[0]
    assert served["probabilities"] == pytest.approx(local.to_dict()["probabilities"], abs=1e-6)
