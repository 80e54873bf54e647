"""ONNX export: a standalone directory whose fp32 and int8 models match torch within stated tolerances."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mindscreen.data import resolve_data_dir
from mindscreen.export import TOLERANCE, OnnxPredictor, export_onnx, export_run
from mindscreen.pipeline import load_pipeline


def dev_texts() -> list[str]:
    path = resolve_data_dir("demo") / "dev.jsonl"
    return [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def export_and_check(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder, check = export_run(trained_run, tmp_path_factory.mktemp("export") / "tiny-onnx", int8=True)
    assert check is not None
    return folder, check


@pytest.fixture(scope="module")
def exported(export_and_check: tuple[Path, dict]) -> Path:
    return export_and_check[0]


def test_export_writes_a_standalone_directory(exported: Path, tmp_path: Path) -> None:
    names = {p.name for p in exported.iterdir()}
    assert {
        "export.json",
        "model.onnx",
        "model.int8.onnx",
        "tokenizer",
        "model.json",
        "thresholds.json",
    } <= names
    moved = shutil.copytree(exported, tmp_path / "elsewhere")
    predictor = OnnxPredictor.from_dir(moved, int8=False)
    assert predictor.predict_proba(["a quiet day"]).shape == (1, len(predictor.labels))
    assert predictor.predict_proba([]).shape == (0, len(predictor.labels))


def test_onnx_probabilities_match_torch_within_the_stated_tolerances(
    export_and_check: tuple[Path, dict],
) -> None:
    exported, result = export_and_check

    assert result["fp32"]["max_abs_diff"] <= TOLERANCE["fp32"] == 1e-4
    assert result["int8"]["max_abs_diff"] <= TOLERANCE["int8"] == 0.05
    assert result["passed"]
    assert json.loads((exported / "export.json").read_text())["check"]["passed"]


def test_dynamic_batch_and_length_give_the_same_probabilities_as_one_text_at_a_time(exported: Path) -> None:
    predictor = OnnxPredictor.from_dir(exported, int8=False, batch_size=4)
    texts = dev_texts()[:9]

    together = predictor.predict_proba(texts)
    alone = np.concatenate([predictor.predict_proba([text]) for text in texts])

    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_export_refuses_to_overwrite_an_existing_directory(trained_run: Path, exported: Path) -> None:
    with pytest.raises(FileExistsError, match="overwrite"):
        export_onnx(trained_run, exported)


def test_an_export_directory_can_be_served_as_a_pipeline(exported: Path) -> None:
    pipe = load_pipeline(exported)
    (result,) = pipe.classify(["i want to end my life"])
    assert result.risk == "crisis" and pipe.version.startswith("tiny-onnx-")


@pytest.mark.parametrize("fixture", ["tiny_bert_dir", "tiny_roberta_dir"])
def test_text_encoder_gives_the_ids_of_the_transformers_tokenizer(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    from transformers import AutoTokenizer

    from mindscreen.export.predictor import TextEncoder

    folder: Path = request.getfixturevalue(fixture)
    texts = [*dev_texts()[:20], "Caf\u00e9 \u2019quotes\u2019  and   spaces", "word " * 100]
    reference = AutoTokenizer.from_pretrained(folder)

    encoder = TextEncoder.load(folder, max_length=32)

    assert encoder.encode(texts) == reference(texts, truncation=True, max_length=32)["input_ids"]
    assert encoder.pad_id == reference.pad_token_id


def test_the_onnx_path_imports_neither_torch_nor_transformers(exported: Path) -> None:
    code = (
        "import sys; from mindscreen.export import OnnxPredictor;"
        f"OnnxPredictor.from_dir({str(exported)!r}).predict_proba(['hello']);"
        "print(','.join(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
