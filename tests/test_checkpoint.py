"""Resuming from checkpoints/last: a changed config, a kill during the swap, damaged files."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import yaml

from mindscreen.config import validate_config
from mindscreen.training import step, train
from mindscreen.training.checkpoint import CHECKPOINT_DIR, config_changes, has_checkpoint

from .conftest import tiny_config

SECTIONS = {"train": {"epochs": 1, "eval_every": 1, "batch_size": 64}}


@pytest.fixture(scope="module")
def crashed_run(tmp_path_factory: pytest.TempPathFactory, tiny_bert_dir: Path) -> Path:
    """A run that crashed after its first checkpoint (step 1). Copy it before changing it."""
    run = tmp_path_factory.mktemp("crashed") / "run"
    real_step, calls = step.forward_backward, {"n": 0}

    def crash_on_third_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated crash")
        return real_step(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(step, "forward_backward", crash_on_third_batch)
        with pytest.raises(RuntimeError, match="simulated crash"):
            train(tiny_config(run, tiny_bert_dir, **SECTIONS), progress=False)
    assert has_checkpoint(run)
    return run


def copy_of(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "run"))


def test_resume_under_a_changed_config_is_refused_naming_the_changed_keys(
    crashed_run: Path, tmp_path: Path, tiny_bert_dir: Path
) -> None:
    run = copy_of(crashed_run, tmp_path)
    changed = tiny_config(run, tiny_bert_dir, train={**SECTIONS["train"], "lr": 1e-3, "seed": 7})

    with pytest.raises(ValueError, match="config differs") as refused:
        train(changed, resume=True, progress=False)

    assert "train.lr: 0.003 -> 0.001" in str(refused.value) and "train.seed: " in str(refused.value)
    assert "--overwrite" in str(refused.value) and "output_dir" not in str(refused.value)


def test_resume_with_overwrite_continues_under_the_new_config_and_records_it(
    crashed_run: Path, tmp_path: Path, tiny_bert_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = copy_of(crashed_run, tmp_path)
    changed = tiny_config(run, tiny_bert_dir, train={**SECTIONS["train"], "lr": 1e-3})
    caplog.set_level(logging.WARNING)

    result = train(changed, resume=True, overwrite=True, progress=False)

    assert "test" in result.metrics and not (run / "checkpoints").exists()
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["lr"] == 1e-3
    assert "train.lr: 0.003 -> 0.001" in caplog.text


def test_a_run_with_defaults_chosen_from_the_data_resumes_under_the_same_command(
    tiny_bert_dir: Path, tmp_path: Path
) -> None:
    # config.yaml holds the data's choices (epochs, class weights); the same command resolves them
    # again on resume, so the two compare equal.
    config = validate_config(
        {
            "output_dir": str(tmp_path / "run"),
            "data": {"dir": "demo"},
            "model": {"encoder": str(tiny_bert_dir), "max_length": 48},
            "train": {"batch_size": 64, "eval_every": 7, "lr": 3e-3, "patience": None},
        }
    )
    real_step, calls = step.forward_backward, {"n": 0}

    def crash_after_the_first_checkpoint(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 10:
            raise RuntimeError("simulated crash")
        return real_step(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(step, "forward_backward", crash_after_the_first_checkpoint)
        with pytest.raises(RuntimeError, match="simulated crash"):
            train(config, progress=False)
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["train"]
    assert saved["epochs"] != config.train.epochs  # chosen from the data, not the library default

    result = train(config, resume=True, progress=False)

    assert "test" in result.metrics and not (tmp_path / "run" / "checkpoints").exists()


def test_a_complete_checkpoint_left_in_last_tmp_by_a_kill_is_recovered(
    crashed_run: Path, tmp_path: Path, tiny_bert_dir: Path
) -> None:
    run = copy_of(crashed_run, tmp_path)
    last = run / CHECKPOINT_DIR
    last.rename(last.with_name("last.tmp"))  # killed after removing last, before renaming last.tmp

    result = train(tiny_config(run, tiny_bert_dir, **SECTIONS), resume=True, progress=False)

    assert "test" in result.metrics


def test_an_incomplete_last_tmp_without_last_is_named(
    crashed_run: Path, tmp_path: Path, tiny_bert_dir: Path
) -> None:
    run = copy_of(crashed_run, tmp_path)
    last = run / CHECKPOINT_DIR
    (last / "state.json").unlink()  # killed while last.tmp was written
    last.rename(last.with_name("last.tmp"))

    with pytest.raises(FileNotFoundError, match="last.tmp is incomplete"):
        train(tiny_config(run, tiny_bert_dir, **SECTIONS), resume=True, progress=False)


@pytest.mark.parametrize("name", ["optimizer.pt", "model.safetensors", "state.json"])
def test_a_truncated_checkpoint_file_stops_resume_naming_the_file(
    crashed_run: Path, tmp_path: Path, tiny_bert_dir: Path, name: str
) -> None:
    run = copy_of(crashed_run, tmp_path)
    damaged = run / CHECKPOINT_DIR / name
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])

    with pytest.raises(ValueError, match="the checkpoint is damaged") as refused:
        train(tiny_config(run, tiny_bert_dir, **SECTIONS), resume=True, progress=False)

    assert str(damaged) in str(refused.value)


def test_config_changes_lists_changed_added_and_removed_leaves_by_dotted_key() -> None:
    saved = {"train": {"lr": 1.0, "gone": 2}, "model": {"pooling": "mean"}}
    current = {"train": {"lr": 0.5, "new": [1]}, "model": {"pooling": "mean"}}

    assert config_changes(saved, current) == [
        ("train.lr", 1.0, 0.5),
        ("train.gone", 2, None),
        ("train.new", None, [1]),
    ]
