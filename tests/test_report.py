import json
from pathlib import Path

import numpy as np
import pytest

from mindscreen.metrics import compute_metrics
from mindscreen.report import Criteria, build_report, evaluate_checklist, load_criteria
from mindscreen.rundir import write_calibration, write_json, write_predictions, write_thresholds


def _metrics(weighted: float, class_f1: list[float]) -> dict:
    per_class = {f"c{i}": {"f1": f1} for i, f1 in enumerate(class_f1)}
    return {"test": {"weighted_f1": weighted, "per_class": per_class}, "dev": {}}


def _log(val_losses: list[float], gap: float = 0.01) -> list[dict]:
    best = int(np.argmin(val_losses))
    return [
        {"step": i + 1, "val_loss": loss, "train_val_gap": gap, "best": i == best}
        for i, loss in enumerate(val_losses)
    ]


def _verdicts(metrics: dict, log: list[dict], criteria: Criteria | None = None) -> dict[str, bool]:
    checklist = evaluate_checklist(metrics, log, criteria or Criteria())
    return {item.name.split(" (")[0]: item.passed for item in checklist.items}


def test_a_run_meeting_every_default_criterion_passes() -> None:
    checklist = evaluate_checklist(
        _metrics(0.9, [0.8, 0.75]), _log([0.9, 0.5, 0.41, 0.40, 0.405]), Criteria()
    )
    assert checklist.passed and len(checklist.items) == 4
    assert "[PASS] weighted F1 (test) 0.900 (> 0.85)" in checklist.format()


def test_each_criterion_fails_on_its_own() -> None:
    stable = [0.9, 0.5, 0.41, 0.40, 0.405]
    assert not _verdicts(_metrics(0.85, [0.8, 0.8]), _log(stable))["weighted F1"]  # strictly above
    assert not _verdicts(_metrics(0.9, [0.8, 0.69]), _log(stable))["every class F1"]
    assert not _verdicts(_metrics(0.9, [0.8, 0.8]), _log(stable, gap=0.06))[
        "train/val gap at best checkpoint"
    ]
    assert _verdicts(_metrics(0.9, [0.8, 0.8]), _log(stable, gap=-0.2))["train/val gap at best checkpoint"]


@pytest.mark.parametrize(
    ("losses", "stabilised"),
    [
        ([0.9, 0.5, 0.41, 0.40, 0.405], True),  # flat within 5% at its lowest
        ([0.9, 0.7, 0.6, 0.5, 0.45], False),  # still falling fast
        ([0.40, 0.41, 0.43, 0.44, 0.45], False),  # each step small, but climbing away from the best
        ([0.5, 0.49], False),  # too few evaluations to tell
        ([0.45, 0.12, 0.0585, 0.0549, 0.0560], True),  # flat at low loss: 6.6% apart, 0.004 in loss
        ([0.30, 0.12, 0.08, 0.05, 0.03], False),  # low loss, still falling by more than the floor
        ([0.30, 0.03, 0.05, 0.06, 0.07], False),  # low loss, climbing away from the best
    ],
)
def test_validation_loss_is_stabilised_only_when_flat_near_its_lowest(
    losses: list[float], stabilised: bool
) -> None:
    assert _verdicts(_metrics(0.9, [0.8]), _log(losses))["validation loss stabilised"] is stabilised


def test_the_stabilisation_value_printed_is_the_one_compared_with_the_target() -> None:
    for losses in ([0.45, 0.12, 0.0585, 0.0549, 0.0560], [0.9, 0.5, 0.41, 0.40, 0.405], [0.3, 0.2, 0.1]):
        checklist = evaluate_checklist(_metrics(0.9, [0.8]), _log(losses), Criteria())
        (item,) = [i for i in checklist.items if i.name == "validation loss stabilised"]
        allowed = max(0.05 * min(losses), 0.01)
        assert item.value == pytest.approx(max(losses[-3:]) - min(losses))
        assert item.passed is (item.value <= allowed) and f"at most {allowed:.4f} above best" in item.target
    assert "[PASS] validation loss stabilised 0.004 (last 3 evals at most 0.0100 above best 0.0549)" in (
        evaluate_checklist(
            _metrics(0.9, [0.8]), _log([0.45, 0.12, 0.0585, 0.0549, 0.0560]), Criteria()
        ).format()
    )


def test_class_names_below_the_bar_are_listed_and_null_criteria_are_skipped() -> None:
    checklist = evaluate_checklist(_metrics(0.9, [0.5, 0.9, 0.6]), _log([1.0, 0.9, 0.9]), Criteria())
    assert "below: c0, c2" in checklist.format()
    only_f1 = Criteria(min_class_f1=None, max_train_val_gap=None, val_loss_tolerance=None)
    assert [item.name for item in evaluate_checklist(_metrics(0.9, [0.1]), [], only_f1).items] == [
        "weighted F1 (test)"
    ]


def test_criteria_load_from_yaml_with_overrides_and_typos_are_explained(tmp_path: Path) -> None:
    path = tmp_path / "criteria.yaml"
    path.write_text("min_weighted_f1: 0.6\nsplit: dev\n")
    criteria = load_criteria(path, min_class_f1=0.5)
    assert (criteria.min_weighted_f1, criteria.min_class_f1, criteria.split) == (0.6, 0.5, "dev")
    assert criteria.max_train_val_gap == 0.05
    path.write_text("min_weighted_f: 0.6\n")
    with pytest.raises(ValueError, match="min_weighted_f.*Valid keys: .*min_weighted_f1"):
        load_criteria(path)


def _assert_self_contained(page: str, images: int) -> None:
    assert page.count('<img alt="') == images
    assert page.count('src="data:image/png;base64,') == images
    for forbidden in ("http://", "https://", 'src="http', "<script", "<link"):
        assert forbidden not in page


def test_report_of_a_multi_label_run_is_one_self_contained_page(trained_run: Path, tmp_path: Path) -> None:
    before = sorted(p.name for p in trained_run.iterdir())
    output = tmp_path / "out" / "report.html"
    checklist = build_report(trained_run, output)
    page = output.read_text()
    # training curves, F1 per class, outcomes per label, precision-recall, reliability
    _assert_self_contained(page, images=5)
    assert "Checklist" in page and ("PASS" in page or "FAIL" in page)
    assert not checklist.passed  # a tiny random encoder on the demo set is nowhere near the targets
    assert sorted(p.name for p in trained_run.iterdir()) == before  # the run directory is only read
    # The out-of-fold threshold check, one row per label with its verdict.
    check = json.loads((trained_run / "metrics.json").read_text())["thresholds"]
    assert f"{len(check['kept'])} of 6 labels kept theirs" in page
    assert page.count("<td>yes</td>") + page.count("<td>no</td>") == 6


def test_report_shows_highlighted_dev_examples_per_class_including_errors(
    trained_run: Path, tmp_path: Path
) -> None:
    from mindscreen.report.examples import pick_examples

    build_report(trained_run, tmp_path / "with.html", examples=1)
    build_report(trained_run, tmp_path / "without.html", examples=0)
    page, plain = (tmp_path / "with.html").read_text(), (tmp_path / "without.html").read_text()
    assert "Examples (dev)" in page and "<div class='explained'>" in page and "rgba(" in page
    assert ": correct (dev row" in page and ("missed (dev row" in page or "false alarm (dev row" in page)
    assert "<div class='explained'>" not in plain and "keep the report as you keep the data" in page
    _assert_self_contained(page, images=5)
    truth = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=float)
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]])
    preds = (probs >= 0.5).astype(float)
    assert pick_examples(truth, probs, preds, 1) == [
        (0, 0, "correct"),
        (1, 0, "missed"),
        (2, 0, "false alarm"),
        (3, 1, "correct"),
        (2, 1, "missed"),
        (1, 1, "false alarm"),
    ]


def test_report_of_a_calibrated_multi_class_run_shows_the_confusion_matrix(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "encoder").mkdir(parents=True)
    (run / "head.safetensors").write_bytes(b"")
    labels = ["calm", "stress", "anxiety"]
    spec = {"labels": labels, "multi_label": False, "pooling": "mean", "encoder_source": "tiny"}
    (run / "model.json").write_text(json.dumps(spec))
    rng = np.random.default_rng(0)
    truth = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 60)]
    logits = (truth * 4 + rng.normal(0, 1, (60, 3))).astype(np.float32)
    write_predictions(run, "test", logits, truth)
    write_thresholds(run, labels, np.full(3, 1 / 3), fitted=False)
    write_calibration(run, labels, "temperature", np.array([2.0]), {})
    probs = np.exp(logits / 2) / np.exp(logits / 2).sum(1, keepdims=True)
    metrics = {"primary_metric": "macro_f1", "best_step": 2, "steps": 3}
    metrics |= {split: compute_metrics(truth, probs, labels, False) for split in ("dev", "test")}
    metrics["calibration"] = {"method": "temperature", "temperature": [2.0], "test_ece_before": 0.2}
    write_json(run / "metrics.json", metrics)
    log = [
        {"step": s, "train_loss": 1 / s, "val_loss": 1 / s, "best": s == 2, "train_val_gap": 0.0}
        for s in (1, 2, 3)
    ]
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))

    build_report(run)
    page = (run / "report.html").read_text()
    _assert_self_contained(page, images=5)  # curves, F1, confusion matrix, precision-recall, reliability
    assert "Confusion matrix (test)" in page and "temperature 2.000" in page
