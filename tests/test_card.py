"""Model cards: generated in every run, ensemble and pipeline directory, in the Hugging Face layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from mindscreen.card import CARD_FILE, length_slices, read_front_matter, write_card
from mindscreen.cli import main
from mindscreen.config import DataConfig
from mindscreen.data import load_splits, resolve_data_dir

SECTIONS = (
    "## Intended use",
    "## Out-of-scope use",
    "## Training data",
    "## Evaluation (test)",
    "## Calibration",
    "## Decision thresholds",
    "## Known failure modes (found on dev)",
    "## Limits of the evaluation",
)


def _demo_texts() -> list[str]:
    splits = load_splits(DataConfig(dir=str(resolve_data_dir("demo"))))
    return [t for split in (splits.train, splits.dev, splits.test) if split for t in split.texts]


def _assert_no_texts(card: str) -> None:
    leaked = [text for text in _demo_texts() if len(text) > 15 and text in card]
    assert not leaked, f"{len(leaked)} texts in the card"


def test_every_run_gets_a_card_with_metadata_and_every_section(trained_run: Path) -> None:
    card = (trained_run / CARD_FILE).read_text()
    metadata = read_front_matter(trained_run / CARD_FILE)
    assert metadata["library_name"] == "mindscreen" and metadata["pipeline_tag"] == "text-classification"
    scores = metadata["model-index"][0]["results"][0]["metrics"]
    test_f1 = json.loads((trained_run / "metrics.json").read_text())["test"]["macro_f1"]
    assert {"type": "f1", "name": "macro f1", "value": round(test_f1, 4)} in scores
    for section in SECTIONS:
        assert section in card
    assert "Not a diagnostic tool" in card and "human review" in card


def test_the_card_lists_every_class_with_its_support_and_threshold(trained_run: Path) -> None:
    card = (trained_run / CARD_FILE).read_text()
    metrics = json.loads((trained_run / "metrics.json").read_text())
    thresholds = json.loads((trained_run / "thresholds.json").read_text())
    for label, scores in metrics["test"]["per_class"].items():
        start = f"| {label} | {scores['precision']:.3f}"
        row = next(line for line in card.splitlines() if line.startswith(start))
        assert f"| {scores['support']} |" in row
    for label, value in zip(thresholds["labels"], thresholds["thresholds"], strict=True):
        assert any(line.startswith(f"| {label} | {value:.3f} |") for line in card.splitlines())


def test_failure_modes_name_the_rarest_class_and_the_long_texts(trained_run: Path) -> None:
    card = (trained_run / CARD_FILE).read_text()
    profile = json.loads((trained_run / "profile.json").read_text())["profile"]
    counts = profile["class_counts"]["train"]
    rarest = min(counts, key=counts.__getitem__)
    assert f"Rare class **{rarest}**: {counts[rarest]} training texts" in card
    length = json.loads((trained_run / "metrics.json").read_text())["dev_slices"]["length"]
    assert f"Long texts: {length['cut']['texts']} dev texts are longer than" in card


def test_no_text_reaches_a_card(trained_run: Path, model_dirs: dict[str, Path]) -> None:
    _assert_no_texts((trained_run / CARD_FILE).read_text())
    _assert_no_texts((model_dirs["ensemble"] / CARD_FILE).read_text())


def test_an_ensemble_card_lists_its_members_and_scores(model_dirs: dict[str, Path]) -> None:
    card = (model_dirs["ensemble"] / CARD_FILE).read_text()
    assert read_front_matter(model_dirs["ensemble"] / CARD_FILE)["library_name"] == "mindscreen"
    assert "## Members" in card and "| run | run |" in card and "| tfidf | linear |" in card
    assert "## Out-of-scope use" in card and "## Evaluation (test)" in card


def test_mindscreen_card_rewrites_a_deleted_card_identically(trained_run: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(trained_run, tmp_path / trained_run.name))
    before = (copy / CARD_FILE).read_text()
    (copy / CARD_FILE).unlink()
    assert main(["card", str(copy)]) == 0
    assert (copy / CARD_FILE).read_text() == before
    assert main(["card", str(tmp_path)]) == 2  # not a model directory


def test_length_slices_partition_dev_and_skip_metrics_on_tiny_slices() -> None:
    rng = np.random.default_rng(0)
    truth = np.eye(3)[rng.integers(0, 3, 40)]
    probs = rng.dirichlet(np.ones(3), 40)
    lengths = np.concatenate([np.full(37, 10), np.full(3, 99)])
    found = length_slices(truth, probs, np.full(3, 0.5), lengths, 64, ["a", "b", "c"], multi_label=False)
    assert found["cut"]["texts"] == 3 and found["whole"]["texts"] == 37
    assert "macro_f1" not in found["cut"] and 0 <= found["whole"]["macro_f1"] <= 1
    assert found["longest_quarter"]["texts"] + found["rest"]["texts"] == 40


def test_a_pipeline_card_describes_stages_and_review(trained_run: Path, tmp_path: Path) -> None:
    from mindscreen.pipeline import fit_pipeline

    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"model: {trained_run}\noutput_dir: {tmp_path / 'pipe'}\n"
        "critical_labels: [suicidal_ideation, self_harm]\nsafe_labels: [neutral]\nrecall_floor: 0.9\n"
    )
    folder = fit_pipeline(spec)
    card = (folder / CARD_FILE).read_text()
    assert "## Stages and policy" in card and "critical recall" in card and "sent to review" in card
    assert "Not a diagnostic tool" in card
    _assert_no_texts(card)
    assert write_card(str(folder)) == folder / CARD_FILE
