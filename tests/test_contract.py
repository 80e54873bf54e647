"""A damaged model directory is refused with the file named, never loaded into a model that predicts
something else."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mindscreen.cli import main
from mindscreen.contract import ContractError, safetensors_shapes
from mindscreen.pipeline import load_pipeline
from mindscreen.predictors import load_predictor

TEXT = "zebra-quartz-7731 I have been planning how to end my life"


@pytest.fixture()
def run_copy(trained_run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(trained_run, target)
    return target


def refused(path: Path, match: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``path`` is refused by the loader, the pipeline (what serve loads) and the CLI, naming the file."""
    with pytest.raises(ContractError, match=match):
        load_predictor(path)
    with pytest.raises(ContractError, match=match):
        load_pipeline(path)
    assert main(["-q", "predict", str(path), TEXT]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "zebra-quartz" not in err


def test_a_run_without_its_tokenizer_files_is_refused(
    run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (run_copy / "encoder" / "tokenizer.json").unlink()
    (run_copy / "encoder" / "tokenizer_config.json").unlink()
    refused(run_copy, r"encoder/tokenizer_config\.json is missing", capsys)


def test_a_tokenizer_without_any_vocabulary_file_is_refused(
    run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("tokenizer.json", "vocab.txt"):
        (run_copy / "encoder" / name).unlink(missing_ok=True)
    refused(run_copy, "holds no tokenizer vocabulary", capsys)


def test_a_tokenizer_far_smaller_than_the_encoder_vocabulary_is_refused(run_copy: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    small = Tokenizer(models.WordLevel({"[UNK]": 0, "[PAD]": 1, "the": 2}, unk_token="[UNK]"))
    small.pre_tokenizer = pre_tokenizers.Whitespace()
    small.save(str(run_copy / "encoder" / "tokenizer.json"))
    (run_copy / "encoder" / "vocab.txt").unlink(missing_ok=True)
    with pytest.raises(ContractError, match=r"knows \d+ tokens, the encoder embeds \d+"):
        load_predictor(run_copy)


def test_a_calibration_temperature_of_zero_is_refused(
    run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = run_copy / "calibration.json"
    payload = json.loads(path.read_text())
    payload["temperature"] = [0.0]
    path.write_text(json.dumps(payload))
    refused(run_copy, r"calibration\.json holds a temperature that is not a finite number > 0", capsys)


@pytest.mark.parametrize("name", ["head.safetensors", "encoder/model.safetensors"])
def test_truncated_weights_are_refused(run_copy: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = run_copy / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    refused(run_copy, f"{name} is truncated|{name} cannot be read", capsys)


def test_model_json_with_an_unknown_key_is_refused_rather_than_ignored(run_copy: Path) -> None:
    spec = json.loads((run_copy / "model.json").read_text())
    spec["window_stride"] = 64
    (run_copy / "model.json").write_text(json.dumps(spec))
    with pytest.raises(ContractError, match="keys this mindscreen does not know"):
        load_predictor(run_copy)


def test_a_head_for_another_label_count_is_refused(run_copy: Path) -> None:
    spec = json.loads((run_copy / "model.json").read_text())
    spec["labels"] = spec["labels"][:-1]
    (run_copy / "model.json").write_text(json.dumps(spec))
    with pytest.raises(ContractError, match=r"head\.safetensors has an output layer of shape"):
        load_predictor(run_copy)


def test_safetensors_header_shapes_are_read_without_loading_weights(trained_run: Path) -> None:
    shapes = safetensors_shapes(trained_run / "head.safetensors")
    labels = json.loads((trained_run / "model.json").read_text())["labels"]
    assert shapes["head.out.weight"][0] == len(labels)


def test_a_pipeline_with_thresholds_for_other_labels_is_refused(
    fitted_pipeline_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "pipe"
    shutil.copytree(fitted_pipeline_dir, broken)
    state = json.loads((broken / "pipeline.json").read_text())
    state["thresholds"] = state["thresholds"][:2]
    (broken / "pipeline.json").write_text(json.dumps(state))
    with pytest.raises(ContractError, match=r"pipeline\.json holds 2 thresholds"):
        load_pipeline(broken)


@pytest.fixture()
def fitted_pipeline_dir(trained_run: Path, tmp_path: Path) -> Path:
    from mindscreen.pipeline import fit_pipeline

    spec = tmp_path / "pipe.yaml"
    spec.write_text(
        f"model: {trained_run}\noutput_dir: {tmp_path / 'fitted'}\ncritical_labels: [suicidal_ideation]\n"
        "safe_labels: [neutral]\nscreen: null\n"
    )
    return fit_pipeline(spec)
