"""ONNX export: a standalone directory whose fp32 and int8 models match torch within stated tolerances."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mindscreen.data import resolve_data_dir
from mindscreen.export import TOLERANCE, OnnxPredictor, export_onnx
from mindscreen.pipeline import load_pipeline


def dev_texts() -> list[str]:
    path = resolve_data_dir("demo") / "dev.jsonl"
    return [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def export_and_check(cli_export: tuple[Path, str]) -> tuple[Path, dict]:
    folder = cli_export[0]  # `mindscreen export RUN --int8`, which calls export_run
    return folder, json.loads((folder / "export.json").read_text())["check"]


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


def heavy_imports_after(code: str) -> str:
    """Which of torch and transformers a fresh interpreter has imported after running ``code``."""
    report = "import sys; print(','.join(m for m in ('torch', 'transformers') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_the_onnx_path_imports_neither_torch_nor_transformers(exported: Path) -> None:
    code = (
        "from mindscreen.export import OnnxPredictor\n"
        f"OnnxPredictor.from_dir({str(exported)!r}).predict_proba(['hello'])"
    )
    assert heavy_imports_after(code) == ""


def test_load_predictor_returns_the_onnx_predictor_for_an_export_directory(exported: Path) -> None:
    from mindscreen.predictors import load_predictor

    predictor = load_predictor(exported)
    texts = dev_texts()[:5]

    assert isinstance(predictor, OnnxPredictor) and predictor.variant == "int8"  # its default variant
    np.testing.assert_array_equal(
        predictor.predict_proba(texts), OnnxPredictor.from_dir(exported).predict_proba(texts)
    )


def test_a_missing_onnxruntime_names_the_extra_to_install(
    exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mindscreen.predictors import load_predictor

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what an environment without it imports

    with pytest.raises(ModuleNotFoundError, match=r"pip install 'mindscreen\[serve\]'"):
        load_predictor(exported)


def test_an_export_carries_the_run_config_so_evaluate_reads_its_data_columns(
    trained_run: Path, exported: Path
) -> None:
    from mindscreen.rundir import run_data_config

    assert (exported / "config.yaml").read_text() == (trained_run / "config.yaml").read_text()
    assert run_data_config(exported) == run_data_config(trained_run)


def test_cli_evaluate_scores_an_export_with_its_own_probabilities_and_thresholds(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mindscreen.cli import main
    from mindscreen.metrics import compute_metrics

    test_file = resolve_data_dir("demo") / "test.jsonl"
    rows = [json.loads(line) for line in test_file.read_text().splitlines() if line.strip()]
    out_file = tmp_path / "metrics.json"

    code = main(["-q", "evaluate", str(exported), "--data", str(test_file), "--output", str(out_file)])

    assert code == 0 and "macro" in capsys.readouterr().out
    onnx = OnnxPredictor.from_dir(exported)
    truth = np.array([[label in row["labels"] for label in onnx.labels] for row in rows], dtype=np.float32)
    probs = onnx.predict_proba([row["text"] for row in rows])
    expected = compute_metrics(truth, probs, onnx.labels, onnx.multi_label, onnx.thresholds)
    metrics = json.loads(out_file.read_text())
    assert metrics["num_examples"] == len(rows)
    assert metrics["macro_f1"] == pytest.approx(expected["macro_f1"])


def test_cli_predict_runs_an_export_on_one_text_and_on_a_file(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    from mindscreen.cli import main

    texts = ["exams next week and i cannot sleep", "a calm day"]
    onnx = OnnxPredictor.from_dir(exported)
    labels = onnx.labels
    # int8 quantises activations per batch, so one text alone is compared with one text alone.
    alone, probs = onnx.predict_proba(texts[:1]), onnx.predict_proba(texts)

    assert main(["-q", "predict", str(exported), texts[0]]) == 0
    one = json.loads(capsys.readouterr().out)
    assert list(one["probabilities"]) == labels
    np.testing.assert_allclose(list(one["probabilities"].values()), alone[0], atol=1e-4)

    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"id": [1, 2], "text": texts}).to_csv(source, index=False)
    assert main(["-q", "predict", str(exported), "--input", str(source), "--output", str(target)]) == 0
    table = pd.read_csv(target)
    assert list(table["id"]) == [1, 2]
    np.testing.assert_allclose(table[[f"prob_{label}" for label in labels]].to_numpy(), probs, atol=1e-5)


def test_serving_an_export_as_a_pipeline_imports_neither_torch_nor_transformers(exported: Path) -> None:
    """Why the pipeline store checks for an export itself instead of calling load_predictor."""
    code = (
        f"from mindscreen.pipeline import load_pipeline; load_pipeline({str(exported)!r}).classify(['hello'])"
    )
    assert heavy_imports_after(code) == ""


# --- which variant runs: int8 only when its recorded check passed --------------------------------


def test_an_int8_model_that_failed_its_check_runs_only_when_allowed(
    failed_int8_export: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from mindscreen.predictors import load_predictor

    with caplog.at_level(logging.WARNING, logger="mindscreen.export"):
        default = OnnxPredictor.from_dir(failed_int8_export)
    assert default.variant == "fp32" and default.export_check["passed"]
    assert "running fp32, not int8" in caplog.text and "failed its check" in caplog.text
    assert load_predictor(failed_int8_export).variant == "fp32"  # type: ignore[attr-defined]
    assert load_pipeline(failed_int8_export).model.variant == "fp32"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="allow_failed_int8=True"):
        OnnxPredictor.from_dir(failed_int8_export, int8=True)

    allowed = OnnxPredictor.from_dir(failed_int8_export, allow_failed_int8=True)
    assert allowed.variant == "int8" and allowed.export_check["passed"] is False
    assert load_predictor(failed_int8_export, allow_failed_int8=True).variant == "int8"  # type: ignore[attr-defined]
    assert load_pipeline(failed_int8_export, allow_failed_int8=True).model.variant == "int8"  # type: ignore[attr-defined]


def test_an_int8_model_never_checked_is_not_run_by_default(exported: Path, tmp_path: Path) -> None:
    unchecked = Path(shutil.copytree(exported, tmp_path / "unchecked"))
    meta = json.loads((unchecked / "export.json").read_text())
    (unchecked / "export.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "check"}))

    assert OnnxPredictor.from_dir(unchecked).variant == "fp32"
    assert OnnxPredictor.from_dir(unchecked, allow_failed_int8=True).variant == "int8"
    assert OnnxPredictor.from_dir(exported).variant == "int8"  # its check passed


def test_cli_predict_and_evaluate_run_fp32_for_a_failed_int8_unless_allow_failed_int8(
    failed_int8_export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mindscreen.cli import main

    text = "exams next week and i cannot sleep"
    fp32 = OnnxPredictor.from_dir(failed_int8_export, int8=False).predict_proba([text])[0]
    int8 = OnnxPredictor.from_dir(failed_int8_export, allow_failed_int8=True).predict_proba([text])[0]
    assert not np.allclose(fp32, int8, atol=1e-6)  # the two are told apart below
    for flags, expected in (([], fp32), (["--allow-failed-int8"], int8)):
        assert main(["-q", "predict", str(failed_int8_export), text, *flags]) == 0
        probs = list(json.loads(capsys.readouterr().out)["probabilities"].values())
        np.testing.assert_allclose(probs, expected, atol=1e-4 / 2)

    from mindscreen.data import load_labelled_file
    from mindscreen.evaluation import run_data_config
    from mindscreen.metrics import compute_metrics

    data = resolve_data_dir("demo") / "test.jsonl"
    model = OnnxPredictor.from_dir(failed_int8_export, int8=False)
    split = load_labelled_file(data, run_data_config(failed_int8_export), model.labels, model.multi_label)
    seen = []
    for flags, int8_on in (([], False), (["--allow-failed-int8"], True)):
        out = tmp_path / f"metrics-{int8_on}.json"
        args = ["-q", "evaluate", str(failed_int8_export), "--data", str(data), "--output", str(out)]
        assert main([*args, *flags]) == 0
        variant = OnnxPredictor.from_dir(failed_int8_export, allow_failed_int8=int8_on)
        expected = compute_metrics(
            split.labels,
            variant.predict_proba(split.texts),
            model.labels,
            model.multi_label,
            model.thresholds,
        )
        got = json.loads(out.read_text())
        for label in model.labels:
            assert got["per_class"][label]["pr_auc"] == pytest.approx(expected["per_class"][label]["pr_auc"])
        seen.append([expected["per_class"][label]["pr_auc"] for label in model.labels])
    assert seen[0] != seen[1]  # fp32 and int8 are told apart
