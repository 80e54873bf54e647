"""The multistage pipeline: routing, recall floors, review flags, risk levels, spec, directory, batch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mindscreen.config import ConfigError
from mindscreen.pipeline import (
    Lexicon,
    Pipeline,
    Policy,
    fit_pipeline,
    load_pipeline,
    load_spec,
    predict_table,
)
from mindscreen.pipeline.decisions import risk_levels
from mindscreen.pipeline.floors import fit_cutoff, fit_recall_thresholds, recalls
from mindscreen.pipeline.stages import ModelStage, Scores, ScreenStage
from mindscreen.scores import macro_f1
from mindscreen.thresholds import apply_thresholds

LABELS = ["neutral", "stress", "suicidal_ideation"]


class StubPredictor:
    """Deterministic ``predict_proba``: each text's probabilities from a table; records what it saw."""

    def __init__(
        self,
        table: dict[str, list[float]],
        labels: list[str] = LABELS,
        multi_label: bool = True,
        members: dict[str, list[list[float]]] | None = None,
    ) -> None:
        self.table, self._labels, self._multi_label, self.members = table, labels, multi_label, members
        self.thresholds = np.full(len(labels), 0.5 if multi_label else 1 / len(labels))
        self.seen: list[str] = []

    @property
    def labels(self) -> list[str]:
        return self._labels

    @property
    def multi_label(self) -> bool:
        return self._multi_label

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        return self.lookup(texts)

    def lookup(self, texts: list[str]) -> np.ndarray:
        return np.array([self.table[t] for t in texts], dtype=float).reshape(len(texts), len(self._labels))

    def member_probas(self, texts: list[str]) -> np.ndarray:
        return self.predict_proba(texts)[None]

    def combine(self, member_probs: np.ndarray) -> np.ndarray:
        return member_probs[0]

    def save(self, directory: Path) -> None:  # pragma: no cover - never saved in these tests
        raise NotImplementedError


class StubEnsemble(StubPredictor):
    """Members' probabilities from a table; ``combine`` gives the combined ones of the same texts."""

    def member_probas(self, texts: list[str]) -> np.ndarray:
        assert self.members is not None
        self.seen.extend(texts)
        self.last = texts
        return np.array([[self.members[t][m] for t in texts] for m in range(len(self.members[texts[0]]))])

    def combine(self, member_probs: np.ndarray) -> np.ndarray:
        return self.lookup(self.last)


def policy(**settings: float | None) -> Policy:
    return Policy.build(LABELS, True, ["suicidal_ideation"], ["neutral"], **settings)


def test_clear_low_risk_texts_are_decided_at_stage_one_and_never_reach_stage_two() -> None:
    screen = StubPredictor({"fine day": [0.9, 0.05, 0.01], "so much work": [0.2, 0.7, 0.05]})
    model = StubPredictor({"so much work": [0.1, 0.9, 0.1]})
    pipe = Pipeline(model, policy(), model.thresholds, screen=screen, cutoff=0.3)

    results = pipe.classify(["fine day", "so much work"])

    assert model.seen == ["so much work"]
    assert (results[0].stage, results[0].labels, results[0].risk) == ("screen", ["neutral"], "none")
    assert (results[1].stage, results[1].labels, results[1].risk) == ("model", ["stress"], "high")
    assert results[0].probabilities == pytest.approx(dict(zip(LABELS, [0.9, 0.05, 0.01], strict=True)))


def test_crisis_phrase_always_goes_to_stage_two_and_is_a_crisis_to_review() -> None:
    text = "Some days I don\u2019t want to live anymore"
    screen = StubPredictor({text: [0.95, 0.01, 0.01]})
    model = StubPredictor({text: [0.6, 0.2, 0.1]})
    pipe = Pipeline(model, policy(), model.thresholds, screen=screen, cutoff=0.5, lexicon=Lexicon.load())

    (result,) = pipe.classify([text])

    assert model.seen == [text]
    assert result.stage == "model"
    assert result.risk == "crisis"
    assert result.needs_review and "crisis_phrase" in result.review_reasons


def test_lexicon_matches_whole_phrases_whatever_the_case_spacing_or_apostrophe() -> None:
    lexicon = Lexicon(["don't want to live", "hurt myself"])
    texts = [
        "I DON'T  want to live",
        "i don\u2019t want to live",
        "unhurt myselfie",
        "cutting myself some slack",
    ]
    assert lexicon.flags(texts).tolist() == [True, True, False, False]
    assert Lexicon.load().flags(["lunch was great"]).tolist() == [False]


@pytest.mark.parametrize("multi_label", [True, False])
def test_recall_thresholds_reach_the_floor_on_dev_and_never_rise(multi_label: bool) -> None:
    rng = np.random.default_rng(0)
    y_idx = rng.integers(0, 3, size=300)
    y = np.eye(3)[y_idx]
    logits = rng.normal(size=(300, 3)) + 1.2 * y
    probs = (
        1 / (1 + np.exp(-logits)) if multi_label else np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    )
    start = np.full(3, 0.5 if multi_label else 1 / 3)
    # Multi-class critical labels compete for texts: one critical label keeps the floor reachable.
    critical = ["stress", "suicidal_ideation"] if multi_label else ["suicidal_ideation"]
    rules = Policy.build(LABELS, multi_label, critical, ["neutral"])

    fitted = fit_recall_thresholds(y, probs, start, rules, floor=0.95)

    achieved = recalls(y, apply_thresholds(probs, fitted, multi_label), rules.critical)
    assert all(r is not None and r >= 0.95 for r in achieved)
    if multi_label:
        assert np.all(fitted <= start)


def synthetic_dev(seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random((400, 3)) < [0.5, 0.3, 0.1]).astype(float)
    noise = lambda scale: rng.normal(scale=scale, size=y.shape)  # noqa: E731
    return {
        "y": y,
        "screen": np.clip(0.15 + 0.6 * y + noise(0.15), 0, 1),
        "model": np.clip(0.1 + 0.8 * y + noise(0.1), 0, 1),
        "flagged": rng.random(400) < 0.05,
    }


def stages_for(dev: dict[str, np.ndarray], rules: Policy, thresholds: np.ndarray) -> tuple[Any, ...]:
    """The screen and model stages over the synthetic dev scores, for fit_cutoff."""
    screen = ScreenStage(StubPredictor({}), 0.0, rules)  # stage-1 thresholds: 0.5 each
    model = ModelStage(StubPredictor({}), thresholds, rules)
    return screen, dev["screen"], model, Scores(probs=dev["model"], members=dev["model"][None])


def test_fitted_cutoff_keeps_end_to_end_critical_recall_at_the_floor() -> None:
    dev, rules = synthetic_dev(), policy()
    thresholds = fit_recall_thresholds(dev["y"], dev["model"], np.full(3, 0.5), rules, floor=0.95)

    fit = fit_cutoff(dev["y"], dev["flagged"], *stages_for(dev, rules, thresholds), 0.95, None)

    # The documented rule, computed here without the pipeline's code: stage 1 decides texts without a
    # crisis phrase whose highest risk-label probability is below the cutoff, with safe labels only.
    at_screen = ~dev["flagged"] & (dev["screen"][:, 1:].max(axis=1) < fit.cutoff)
    preds = (dev["model"] >= thresholds).astype(int)
    preds[at_screen] = 0
    preds[at_screen, 0] = dev["screen"][at_screen, 0] >= 0.5
    (recall,) = recalls(dev["y"], preds, rules.critical)
    assert recall is not None and recall >= 0.95
    assert 0 < fit.screen_share == pytest.approx(at_screen.mean())
    assert fit.critical_recall == [pytest.approx(recall)]


def test_cutoff_with_a_macro_f1_guard_stays_within_the_allowed_drop() -> None:
    dev, rules = synthetic_dev(2), policy()
    thresholds = np.full(3, 0.5)
    baseline = macro_f1(dev["y"], apply_thresholds(dev["model"], thresholds, True))

    fit = fit_cutoff(dev["y"], dev["flagged"], *stages_for(dev, rules, thresholds), 0.5, 0.005)

    assert fit.macro_f1 >= baseline - 0.005 - 1e-12


def test_needs_review_inside_the_abstention_band_only() -> None:
    model = StubPredictor({"unsure": [0.3, 0.2, 0.45], "sure": [0.9, 0.1, 0.02]})
    pipe = Pipeline(model, policy(abstain_band=0.1), model.thresholds)

    unsure, sure = pipe.classify(["unsure", "sure"])

    assert unsure.needs_review and unsure.review_reasons == ["uncertain"]
    assert not sure.needs_review and sure.review_reasons == []


def test_binary_multi_class_band_is_the_distance_to_the_threshold() -> None:
    rules = Policy.build(["no", "yes"], False, ["yes"], ["no"], abstain_band=0.1)
    model = StubPredictor({"a": [0.45, 0.55], "b": [0.3, 0.7]}, labels=["no", "yes"], multi_label=False)

    a, b = Pipeline(model, rules, model.thresholds).classify(["a", "b"])

    assert a.needs_review and not b.needs_review
    assert a.labels == b.labels == ["yes"]


def test_needs_review_when_ensemble_members_disagree_on_a_review_label() -> None:
    members = {
        "split": [[0.9, 0.1, 0.9], [0.9, 0.1, 0.05], [0.9, 0.1, 0.95]],
        "agree": [[0.9, 0.1, 0.02], [0.8, 0.1, 0.01], [0.9, 0.1, 0.03]],
    }
    model = StubEnsemble({"split": [0.9, 0.1, 0.62], "agree": [0.9, 0.1, 0.02]}, members=members)
    pipe = Pipeline(model, policy(abstain_band=0.0, disagreement=0.3), model.thresholds)

    split, agree = pipe.classify(["split", "agree"])

    assert split.review_reasons == ["disagreement"]
    assert not agree.needs_review


def test_risk_levels_follow_the_documented_bands() -> None:
    rules = policy(risk_high=0.8, risk_low=0.2)
    probs = np.array(
        [
            [0.9, 0.1, 0.0],  # nothing risky, nothing likely: none
            [0.9, 0.3, 0.0],  # no risk label predicted but p >= low: low
            [0.1, 0.6, 0.0],  # a risk label predicted below high: moderate
            [0.1, 0.85, 0.0],  # a risk label predicted at or above high: high
            [0.1, 0.1, 0.7],  # a critical label predicted: crisis
            [0.9, 0.0, 0.0],  # a crisis phrase: crisis
        ]
    )
    preds = apply_thresholds(probs, np.full(3, 0.5), True)
    flagged = np.array([False] * 5 + [True])

    levels = risk_levels(probs, preds, flagged, rules)

    assert levels.tolist() == [0, 1, 2, 3, 4, 4]


def test_pipeline_predict_proba_gives_the_deciding_stage_probabilities() -> None:
    screen = StubPredictor({"a": [0.9, 0.1, 0.1], "b": [0.1, 0.8, 0.1]})
    model = StubPredictor({"a": [0.5, 0.5, 0.5], "b": [0.2, 0.7, 0.3]})
    pipe = Pipeline(model, policy(), model.thresholds, screen=screen, cutoff=0.3)

    probs = pipe.predict_proba(["a", "b"])

    np.testing.assert_allclose(probs, [[0.9, 0.1, 0.1], [0.2, 0.7, 0.3]])


def test_spec_typos_and_bad_values_fail_with_their_dotted_key(tmp_path: Path) -> None:
    spec = tmp_path / "pipe.yaml"
    spec.write_text("model: runs/x\nscreen:\n  cutof: 0.2\n")
    with pytest.raises(ConfigError, match=r"screen\.cutof"):
        load_spec(spec)
    spec.write_text("model: runs/x\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'review\.band'"):
        load_spec(spec, ["review.band=0.1"])
    with pytest.raises(ConfigError, match=r"recall_floor"):
        load_spec(spec, ["recall_floor=1.5"])
    assert load_spec(spec, ["screen.cutoff=0.25", "data.dir=demo"]).screen.cutoff == 0.25  # type: ignore[union-attr]


def test_unknown_critical_label_names_the_valid_labels() -> None:
    with pytest.raises(ValueError, match="neutral, stress, suicidal_ideation"):
        Policy.build(LABELS, True, ["self-harm"], [])


def test_example_spec_is_valid() -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "pipeline.yaml"
    spec = load_spec(example)
    assert spec.critical_labels and spec.recall_floor <= 1


@pytest.fixture(scope="module")
def fitted_pipeline(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pipeline")
    spec = folder / "spec.yaml"
    spec.write_text(
        f"model: {trained_run}\noutput_dir: {folder / 'pipe'}\n"
        "critical_labels: [suicidal_ideation, self_harm]\nsafe_labels: [neutral]\nrecall_floor: 0.9\n"
    )
    return fit_pipeline(spec)


def test_fit_pipeline_writes_a_directory_that_reports_recall_and_loads_back(fitted_pipeline: Path) -> None:
    names = {p.name for p in fitted_pipeline.iterdir()}
    assert {"pipeline.yaml", "pipeline.json", "screen", "lexicon.txt", "report.json"} <= names
    report = json.loads((fitted_pipeline / "report.json").read_text())
    dev = report["dev"]["pipeline"]
    assert all(r is None or r >= 0.9 for r in dev["critical_recall"].values())
    assert set(report["test"]) == {"pipeline", "model", "model_own_thresholds"}
    assert 0 <= dev["screen_share"] <= 1

    pipe = load_pipeline(fitted_pipeline)
    results = pipe.classify(["took a walk and had a nice lunch", "i want to end my life"])
    assert results[1].risk == "crisis" and results[1].stage == "model"
    assert pipe.version == json.loads((fitted_pipeline / "pipeline.json").read_text())["version"]


def test_a_run_directory_is_served_as_a_one_stage_pipeline_with_default_roles(trained_run: Path) -> None:
    pipe = load_pipeline(trained_run)
    info = pipe.describe()
    assert info["stages"] == ["model"]
    assert info["critical_labels"] == ["suicidal_ideation", "self_harm"]
    assert info["safe_labels"] == ["neutral"]
    assert all(r.stage == "model" for r in pipe.classify(["a quiet evening", "exams soon"]))


def test_predict_table_adds_decisions_to_every_row(
    fitted_pipeline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"id": [1, 2, 3], "text": ["all good", "deadline stress", "i want to die"]}).to_csv(source)

    assert predict_table(fitted_pipeline, source, target, progress=True) == 3
    err = capsys.readouterr().err
    assert "predict: 100%" in err and "3/3" in err and "want to die" not in err

    out = pd.read_csv(target)
    assert {"id", "text", "labels", "risk", "stage", "needs_review", "prob_neutral"} <= set(out.columns)
    assert out["risk"].iloc[2] == "crisis"


def test_predict_table_cuts_texts_past_max_chars_and_names_their_rows(
    fitted_pipeline: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"text": ["all good", "deadlines " * 50, "fine"]}).to_csv(source, index=False)

    assert predict_table(fitted_pipeline, source, target, max_chars=100) == 3

    assert "1 of 3 texts are longer than 100 characters" in caplog.text and "row 2 " in caplog.text
    assert "deadlines" not in caplog.text
