"""``export --format transformers``: plain transformers loads the run and gives its probabilities."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from mindscreen.cli import main
from mindscreen.config import ModelConfig
from mindscreen.export.hf import REMOTE_FILE, export_transformers
from mindscreen.modeling import build_model, save_model
from mindscreen.pooling import POOLER_NAMES
from mindscreen.predictors import load_predictor
from mindscreen.rundir import write_calibration, write_thresholds
from mindscreen.thresholds import decide_labels

from .conftest import demo_texts

TEXTS = [*demo_texts()[:12], "I can't sleep and everything feels heavy " * 30, "ok"]

# Loads the export the way a user without mindscreen does, and reports whether mindscreen got imported.
OUTSIDE = """
import json, sys
from transformers import pipeline
pipe = pipeline("text-classification", model=sys.argv[1], trust_remote_code=True, top_k=None)
rows = pipe(json.loads(sys.argv[2]), truncation=True)
labels = pipe.model.config.id2label
scores = [[{d["label"]: d["score"] for d in row}[labels[c]] for c in range(len(labels))] for row in rows]
print(json.dumps({"scores": scores, "mindscreen": any(m.startswith("mindscreen") for m in sys.modules)}))
"""


@pytest.fixture(scope="module")
def exported(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hf") / "tiny-transformers"
    assert main(["export", str(trained_run), "--format", "transformers", "--output", str(folder)]) == 0
    return folder


def _transformers_probs(folder: Path, texts: list[str]) -> tuple[np.ndarray, object]:
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        return model.probabilities(model(**batch).logits).numpy(), model


def test_pipeline_outside_mindscreen_gives_the_runs_probabilities(exported: Path, trained_run: Path) -> None:
    env = {**os.environ, "PYTHONPATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", OUTSIDE, str(exported), json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        env=env,
        cwd=exported,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["mindscreen"] is False
    expected = load_predictor(trained_run).predict_proba(TEXTS)
    assert np.abs(np.asarray(found["scores"]) - expected).max() < 1e-5


def test_the_config_carries_thresholds_and_calibration_for_the_same_decisions(
    exported: Path, trained_run: Path
) -> None:
    config = json.loads((exported / "config.json").read_text())
    thresholds = json.loads((trained_run / "thresholds.json").read_text())["thresholds"]
    calibration = json.loads((trained_run / "calibration.json").read_text())
    assert config["thresholds"] == thresholds
    assert config["calibration_temperature"] == calibration["temperature"]
    assert config["auto_map"]["AutoModelForSequenceClassification"].startswith("modeling_mindscreen.")
    code = (exported / REMOTE_FILE).read_text()
    assert not re.search(r"^\s*(import|from) mindscreen", code, re.MULTILINE)
    probs, model = _transformers_probs(exported, TEXTS)
    predictor = load_predictor(trained_run)
    expected = decide_labels(probs, np.asarray(thresholds), predictor.labels, predictor.multi_label)
    assert model.decide(torch.from_numpy(probs)) == expected  # type: ignore[attr-defined]
    assert (exported / "README.md").read_text() == (trained_run / "README.md").read_text()


@pytest.mark.parametrize("pooling", POOLER_NAMES)
def test_every_pooling_and_a_per_class_temperature_survive_the_export(
    pooling: str, tiny_bert_dir: Path, tmp_path: Path
) -> None:
    labels = ["a", "b", "c"]
    torch.manual_seed(1)
    model, tokenizer = build_model(
        ModelConfig(encoder=str(tiny_bert_dir), pooling=pooling, max_length=24), labels, multi_label=False
    )
    run = tmp_path / "run"
    save_model(model, tokenizer, run)
    write_thresholds(run, labels, np.array([0.2, 0.5, 0.3]), fitted=True)
    write_calibration(run, labels, "per_class", np.array([0.7, 1.3, 2.0]), ece={})
    folder = export_transformers(run, tmp_path / "hf")
    probs, _ = _transformers_probs(folder, TEXTS)
    assert np.abs(probs - load_predictor(run).predict_proba(TEXTS)).max() < 1e-5


def test_export_refuses_a_full_folder_and_int8(exported: Path, trained_run: Path) -> None:
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_transformers(trained_run, exported)
    args = ["export", str(trained_run), "--format", "transformers", "--output", str(exported)]
    assert main([*args, "--int8"]) == 2


@pytest.mark.parametrize("long_text", ["head_tail", "chunks"])
def test_a_run_that_reads_past_the_first_window_is_refused(
    long_text: str, tiny_bert_dir: Path, tmp_path: Path
) -> None:
    labels = ["a", "b"]
    model, tokenizer = build_model(
        ModelConfig(encoder=str(tiny_bert_dir), max_length=24, long_text=long_text), labels, multi_label=False
    )
    run = tmp_path / "run"
    save_model(model, tokenizer, run)
    write_thresholds(run, labels, np.array([0.5, 0.5]), fitted=False)
    with pytest.raises(ValueError, match="model.long_text"):
        export_transformers(run, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()
