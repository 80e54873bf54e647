"""bf16 inference (``LoadOptions.precision``): the same decisions as fp32, through every entry point."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch

from mindscreen.ensemble import Ensemble
from mindscreen.export.variant import describe_variant
from mindscreen.predictors import LoadOptions, load_predictor
from mindscreen.serving import ServeSettings

from .conftest import demo_texts
from .serving_support import live_server

pytestmark = pytest.mark.skipif(
    not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="this CPU has no native bfloat16"
)


def test_bf16_runs_in_bfloat16_and_keeps_the_fp32_decisions(trained_run: Path) -> None:
    fp32 = load_predictor(trained_run, device="cpu")
    bf16 = load_predictor(trained_run, device="cpu", precision="bf16")
    texts = demo_texts()[:64]

    exact, rounded = fp32.predict_proba(texts), bf16.predict_proba(texts)

    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    assert 0 < np.abs(exact - rounded).max() < 0.05  # bfloat16 arithmetic ran, and stayed close
    same = [a == b for a, b in zip(fp32.decide(exact), bf16.decide(rounded), strict=True)]
    assert sum(same) >= 0.95 * len(texts)


def test_precision_reaches_an_ensemble_s_run_members(model_dirs: dict[str, Path]) -> None:
    ensemble = Ensemble.from_dir(model_dirs["ensemble"], precision="bf16")
    assert ensemble.precision == "bf16"
    assert describe_variant(ensemble)["precision"] == "bf16"


def test_an_unknown_precision_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="fp32, bf16"):
        LoadOptions(precision="fp16")


def test_predict_cli_takes_precision(trained_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mindscreen.cli import main

    text = "exams next week and i cannot sleep"
    assert main(["-q", "predict", str(trained_run), text]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert main(["-q", "predict", str(trained_run), text, "--precision", "bf16"]) == 0
    rounded = json.loads(capsys.readouterr().out)
    assert rounded["labels"] == exact["labels"]
    assert rounded["probabilities"] != exact["probabilities"]  # a different arithmetic ran


def test_the_service_serves_bf16_and_says_so(trained_run: Path) -> None:
    from mindscreen.pipeline import load_pipeline

    settings = ServeSettings(model_path=str(trained_run), precision="bf16")
    with live_server(settings, None) as base:
        info = httpx.get(f"{base}/v1/model", timeout=10).json()
        answer = httpx.post(f"{base}/v1/classify", json={"text": "i cannot sleep"}, timeout=10)
    assert info["model_variant"]["precision"] == "bf16"
    served = answer.json()["results"][0]
    local = load_pipeline(trained_run, precision="bf16").classify(["i cannot sleep"])[0].to_dict()
    assert served["probabilities"] == pytest.approx(local["probabilities"], abs=1e-6)
