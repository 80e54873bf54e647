"""Explanations: words and offsets, what the model saw, occlusion, Integrated Gradients, every model kind,
the pipeline's deciding stage and crisis phrases, faithfulness, and the terminal, JSONL and HTML views."""

from __future__ import annotations

import json
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch

from mindscreen.ensemble.members import Member
from mindscreen.ensemble.predictor import Ensemble
from mindscreen.explain import explain, seen_spans, segment
from mindscreen.explain.batch import explain_table
from mindscreen.explain.faithfulness import eraser, random_scores
from mindscreen.explain.gradients import gradient_path, gradient_scores, integrated_gradients
from mindscreen.explain.occlusion import occlusion
from mindscreen.explain.page import explanations_page
from mindscreen.explain.render import render_explanation
from mindscreen.explain.seen import seen_words, token_words, tokenize
from mindscreen.explain.words import keep_only, remove
from mindscreen.inference import encode_texts
from mindscreen.linear import LinearPredictor, TfidfBlock
from mindscreen.pipeline import Lexicon, Pipeline, Policy, load_pipeline
from mindscreen.predictors import KIND_NAMES, load_predictor

TRICKY = [
    "I don't feel ok!!! 😢😢 e\u0301te\u0301 👨\u200d👩\u200d👧 ok👍🏽.",
    "line one\r\nline two\r\n\r\nthe end",
    "\u0301 starts with a mark, ends with a space ",
    "it\u2019s self-harm, isn't it?",
]
TEXTS = ["exams next week and i cannot sleep", "i want to kill myself", "a calm walk in the park today"]


@pytest.mark.parametrize("text", TRICKY)
def test_words_round_trip_to_the_original_characters(text: str) -> None:
    spans = segment(text)

    assert all(0 <= s < e <= len(text) for s, e in spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert all(text[s:e].strip() == text[s:e] for s, e in spans)  # no unit holds whitespace
    assert remove(text, spans).strip() == ""  # everything outside the units is whitespace
    assert keep_only(text, spans).split() == [text[s:e] for s, e in spans]


def test_combining_marks_emoji_sequences_and_apostrophes_stay_inside_their_unit() -> None:
    words = [TRICKY[0][s:e] for s, e in segment(TRICKY[0])]
    assert "e\u0301te\u0301" in words and "👨\u200d👩\u200d👧" in words and "👍🏽" in words
    assert "don't" in words and "!!!" in words
    assert [TRICKY[1][s:e] for s, e in segment(TRICKY[1])] == ["line", "one", "line", "two", "the", "end"]


def test_tokens_read_as_the_model_reads_them_and_land_on_their_words(
    trained_run: Path, tiny_roberta_dir: Path
) -> None:
    from transformers import AutoTokenizer

    run = load_predictor(trained_run)
    long = " ".join(["sleep"] * 200)
    for text in [*TRICKY, *TEXTS, long]:
        tokens = tokenize(run.tokenizer, text, run.model.spec.max_length)
        assert tokens.ids == encode_texts(run.tokenizer, [text], run.model.spec.max_length)[0]
    bpe = AutoTokenizer.from_pretrained(tiny_roberta_dir)
    for tokenizer in (run.tokenizer, bpe):
        for text in TRICKY:
            words = segment(text)
            tokens = tokenize(tokenizer, text, 128)
            owners = token_words(tokens, words)
            for (start, end), owner, special in zip(tokens.spans, owners, tokens.special, strict=True):
                if not special and end > start and text[start:end].strip():
                    assert owner >= 0 and words[owner][0] <= start < words[owner][1]


def test_words_past_max_length_are_marked_unseen_and_get_no_score(model_dirs: dict[str, Path]) -> None:
    run = load_predictor(model_dirs["run"])
    text = " ".join(["work"] * 30 + ["sleep"] * 60)  # 90 words, max_length 48 tokens
    words = segment(text)
    (end,) = [hi for _, hi in seen_spans(run.tokenizer, text, run.model.spec.max_length)]
    flags = seen_words(run, text, words)
    assert 0 < end < len(text) and flags[0] and not flags[-1] and sum(flags) == 46  # 48 minus [CLS], [SEP]
    assert seen_words(load_predictor(model_dirs["onnx"]), text, words) == flags  # the export reads the same
    assert all(seen_words(load_predictor(model_dirs["ensemble"]), text, words))  # its TF-IDF member reads all
    for method in ("occlusion", "integrated_gradients"):
        (found,) = explain(run, [text], method=method)
        scores = [w.score for w in found.labels[0].words]
        assert [s is not None for s in scores] == flags, method
    # Deleting a word the model never saw leaves its probability unchanged.
    np.testing.assert_allclose(
        run.predict_proba([remove(text, [words[-1]])]), run.predict_proba([text]), atol=1e-6
    )
    assert seen_spans(run.tokenizer, "short text", 48) == [(0, len("short text"))]


def test_occlusion_scores_are_the_drop_in_probability_when_a_word_is_deleted(trained_run: Path) -> None:
    run = load_predictor(trained_run)
    text = TEXTS[0]
    words = segment(text)
    ((base, scores),) = occlusion(run, [text], [words], [[True] * len(words)])
    np.testing.assert_allclose(base, run.predict_proba([text])[0], atol=1e-6)
    for w, span in enumerate(words):
        np.testing.assert_allclose(scores[w], base - run.predict_proba([remove(text, [span])])[0], atol=1e-6)


def test_integrated_gradients_add_up_to_the_change_in_calibrated_probability(trained_run: Path) -> None:
    run = load_predictor(trained_run)
    run.temperature = np.full(len(run.labels), 1.7)  # the explained probability is the calibrated one
    tokens = tokenize(run.tokenizer, TEXTS[1], run.model.spec.max_length)
    targets = [0, 4]
    attributions, delta = integrated_gradients(
        run.model, tokens, run.tokenizer.pad_token_id, run.temperature, targets, steps=64
    )
    baseline = [
        t if s else run.tokenizer.pad_token_id for t, s in zip(tokens.ids, tokens.special, strict=True)
    ]
    with torch.no_grad():
        logits = run.model(
            torch.tensor([tokens.ids, baseline]), torch.ones(2, len(baseline), dtype=torch.long)
        )
    probs = torch.sigmoid(logits / 1.7).numpy()  # (2, C): the text, the baseline
    np.testing.assert_allclose(probs[0], run.predict_proba([TEXTS[1]])[0], atol=1e-5)
    change = probs[0, targets] - probs[1, targets]
    np.testing.assert_allclose(attributions.sum(axis=1), change, atol=2e-3 + 0.02 * np.abs(change).max())
    assert np.all(np.abs(delta) < 2e-3 + 0.02 * np.abs(change).max())


def test_an_averaging_ensemble_of_runs_is_explained_as_its_members_weighted_gradients(
    trained_run: Path,
) -> None:
    members = [
        Member("a", trained_run, temperature=1.0).load(),
        Member("b", trained_run, temperature=2.0).load(),
    ]
    ensemble = Ensemble(members, "weighted", np.full(6, 0.5), weights=np.array([0.25, 0.75]))
    text, targets = TEXTS[0], [1, 3]
    words = segment(text)
    path = gradient_path(ensemble)
    assert path is not None and [w for _, _, w in path] == [0.25, 0.75]
    combined = gradient_scores(path, text, words, targets, steps=16)
    parts = [
        gradient_scores([(m.predictor, np.array([t]), 1.0)], text, words, targets, 16)
        for m, t in zip(members, (1.0, 2.0), strict=True)
    ]
    np.testing.assert_allclose(combined, 0.25 * parts[0] + 0.75 * parts[1], atol=1e-6)
    stacked = Ensemble(members, "average", np.full(6, 0.5))
    stacked.method = "stacking"
    assert gradient_path(stacked) is None


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_explain_works_on_every_kind_and_explains_the_probability_predict_reports(
    kind: str, model_dirs: dict[str, Path]
) -> None:
    path = model_dirs[kind]
    decisions = load_pipeline(path).classify(TEXTS)
    for method in ("occlusion", "integrated_gradients"):
        found = explain(path, TEXTS, method=method)
        assert [e.decision for e in found] == [d.to_dict() for d in decisions]
        for text, explanation, decision in zip(TEXTS, found, decisions, strict=True):
            explained = [label.label for label in explanation.labels]
            top = max(decision.probabilities, key=decision.probabilities.__getitem__)
            assert explained == (decision.labels or [top])
            for label in explanation.labels:
                assert label.probability == decision.probabilities[label.label]
                assert [(w.start, w.end) for w in label.words] == segment(text)
                assert all(w.seen for w in label.words)
        used = {label.method for e in found for label in e.labels}
        gradient = method == "integrated_gradients" and kind == "run"
        assert used == {"integrated_gradients" if gradient else "occlusion"}, (kind, method)
        notes = {label.note for e in found for label in e.labels}
        assert (notes == {None}) == (method == "occlusion" or gradient)


def test_a_pipeline_explains_the_stage_that_decided_and_shows_crisis_phrases(
    model_dirs: dict[str, Path],
) -> None:
    model, screen = load_predictor(model_dirs["run"]), load_predictor(model_dirs["linear"])
    labels = model.labels
    policy = Policy.build(labels, True, ["suicidal_ideation", "self_harm"], ["neutral"])
    pipe = Pipeline(model, policy, model.thresholds, screen=screen, cutoff=1.01, lexicon=Lexicon.load())
    calm, crisis = explain(
        pipe, [TEXTS[2], "ok so. I want to  KILL myself\r\ntoday"], method="integrated_gradients"
    )

    assert calm.stage == "screen" and calm.crisis_phrases == []
    assert calm.labels[0].method == "occlusion" and "linear" in (calm.labels[0].note or "")
    np.testing.assert_allclose(
        [label.probability for label in calm.labels],
        [screen.predict_proba([TEXTS[2]])[0][labels.index(label.label)] for label in calm.labels],
        atol=1e-6,
    )
    assert crisis.stage == "model" and crisis.decision["risk"] == "crisis"
    assert crisis.labels[0].method == "integrated_gradients"
    ((start, end),) = crisis.crisis_phrases
    assert "ok so. I want to  KILL myself\r\ntoday"[start:end] == "KILL myself"


def test_unknown_labels_and_methods_are_refused_naming_the_valid_ones(trained_run: Path) -> None:
    with pytest.raises(ValueError, match="its labels are: neutral"):
        explain(trained_run, TEXTS, labels=["secret-label"])
    with pytest.raises(ValueError, match="occlusion, integrated_gradients"):
        explain(trained_run, TEXTS, method="lime")
    (found,) = explain(trained_run, [TEXTS[0]], labels=["stress", "anxiety"])
    assert [label.label for label in found.labels] == ["stress", "anxiety"]


def keyword_model() -> LinearPredictor:
    """A TF-IDF model whose 'stress' logit rises with 'deadline' (+6) and falls with 'holiday' (-3)."""
    vocabulary = ["deadline", "holiday", "the", "today", "work"]
    block = TfidfBlock("word", (1, 1), vocabulary, np.ones(len(vocabulary)))
    coef = np.array([[0.0, 0, 0, 0, 0], [6.0, -3.0, 0, 0, 0.5]])
    return LinearPredictor([block], coef, np.zeros(2), ["neutral", "stress"], multi_label=True)


def test_occlusion_on_the_tfidf_model_ranks_the_word_with_the_largest_coefficient_first() -> None:
    (found,) = explain(keyword_model(), ["the work deadline is today, no holiday"], labels=["stress"])
    text = "the work deadline is today, no holiday"
    ranked = [text[w.start : w.end] for w in found.labels[0].top(3)]
    assert ranked[0] == "deadline"
    assert [text[w.start : w.end] for w in found.labels[0].top(1, -1)] == ["holiday"]


def test_occlusion_is_more_comprehensive_and_sufficient_than_random_scores() -> None:
    model = keyword_model()
    texts = [
        f"the work {a} today and the {b} work" for a in ("deadline", "holiday") for b in ("today", "deadline")
    ]
    words = [segment(t) for t in texts]
    found = explain(model, texts, labels=["stress"])
    occluded = [np.array([np.nan if w.score is None else w.score for w in e.labels[0].words]) for e in found]
    rng = np.random.default_rng(0)
    randoms = [random_scores([True] * len(w), rng) for w in words]
    comp, suff = eraser(model, texts, words, occluded, [1] * len(texts))
    comp_random, suff_random = eraser(model, texts, words, randoms, [1] * len(texts))
    assert comp.mean() > comp_random.mean() and suff.mean() < suff_random.mean()


def test_terminal_view_marks_top_words_and_the_unseen_part(trained_run: Path) -> None:
    text = "exams next week and i cannot sleep at all " + " ".join(["sleep"] * 60)
    (found,) = explain(trained_run, [text], labels=["stress"])
    shown = render_explanation(text, found, top=2)
    assert "stress: probability" in shown and "<<not seen>>" in shown and "were not seen: no score" in shown
    marked = [w for w in found.labels[0].top(2, 1) + found.labels[0].top(2, -1)]
    assert marked and all(f"[{text[w.start : w.end]}]" in shown or "{" in shown for w in marked)
    assert "\033[" in render_explanation(text, found, color=True)


class TagCounter(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.opened: Counter[str] = Counter()
        self.closed: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("meta",):
            self.opened[tag] += 1

    def handle_endtag(self, tag: str) -> None:
        self.closed[tag] += 1


def test_explain_table_writes_offsets_per_row_and_an_escaped_page(trained_run: Path, tmp_path: Path) -> None:
    texts = ["<script>alert(1)</script> i want to kill myself", "exams\r\nnext week 😢"]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    count = explain_table(trained_run, source, tmp_path / "out.jsonl", tmp_path / "page.html")

    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert count == 2 and [line["row"] for line in lines] == [0, 1]
    assert "script" not in (tmp_path / "out.jsonl").read_text()  # offsets and scores, never the text
    words = lines[1]["explanations"][0]["words"]
    assert [texts[1][w["start"] : w["end"]] for w in words] == ["exams", "next", "week", "😢"]
    assert lines[0]["crisis_phrases"] and lines[0]["risk"] == "crisis"
    page = (tmp_path / "page.html").read_text()
    assert "<script" not in page and "&lt;" in page and "&gt;" in page and "😢" in page
    tags = TagCounter()
    tags.feed(page)
    assert tags.opened == tags.closed and tags.opened["span"] >= 8  # well nested: every span closed
    assert "not why the person wrote them" in page and "<script" not in explanations_page([], [])
