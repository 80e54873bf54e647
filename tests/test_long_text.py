"""Long-text modes (model.long_text): how a text becomes windows, and that every reader cuts it the same."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer

from mindscreen.config import ConfigError, load_config
from mindscreen.explain import seen_spans, segment
from mindscreen.explain.seen import seen_words, tokenize
from mindscreen.inference import (
    LONG_TEXT_MODES,
    Windows,
    aggregate_logits,
    encode_texts,
    encode_windows,
    predict_logits,
    window_positions,
)
from mindscreen.long_text import HEAD_SHARE, MAX_WINDOWS, full_encodings
from mindscreen.predictors import load_predictor

from .conftest import demo_texts, tiny_config

SHORT = ["i slept well", "", "work was fine today, nothing to report"]
LONG = " ".join(["work"] * 30 + ["sleep"] * 60)  # 90 one-token words: longer than 48 tokens


@pytest.fixture(scope="module", params=["tiny_bert_dir", "tiny_roberta_dir"])
def tokenizer(request: pytest.FixtureRequest):
    return AutoTokenizer.from_pretrained(request.getfixturevalue(request.param))


def with_mode(run: Path, folder: Path, mode: str | None) -> Path:
    """A copy of ``run`` whose model.json reads long texts under ``mode`` (None: no long_text key)."""
    shutil.copytree(run, folder)
    spec = json.loads((folder / "model.json").read_text())
    spec.pop("long_text", None)
    if mode is not None:
        spec["long_text"] = mode
    (folder / "model.json").write_text(json.dumps(spec))
    return folder


def test_truncate_is_exactly_the_tokenizers_truncation(tokenizer) -> None:
    texts = [*SHORT, LONG, *demo_texts()[:20]]
    expected = tokenizer(texts, truncation=True, max_length=24)["input_ids"]
    assert (
        encode_windows(tokenizer, texts, 24, "truncate").ids == expected == encode_texts(tokenizer, texts, 24)
    )
    ids, special = full_encodings(tokenizer, texts)  # the rule itself cuts as the tokenizer does
    cut = [
        [row[p] for p in window_positions(flags, 24, "truncate")[0]]
        for row, flags in zip(ids, special, strict=True)
    ]
    assert cut == expected


@pytest.mark.parametrize("mode", ["head_tail", "chunks"])
def test_a_text_that_fits_reads_the_same_under_every_mode(tokenizer, mode: str) -> None:
    windows = encode_windows(tokenizer, [*SHORT, LONG], 512, mode)
    assert windows.ids == encode_texts(tokenizer, [*SHORT, LONG], 512)
    assert windows.owner.tolist() == [0, 1, 2, 3]


def test_head_tail_keeps_the_first_quarter_and_the_last_tokens(tokenizer) -> None:
    ids, special = full_encodings(tokenizer, [LONG])
    (window,) = encode_windows(tokenizer, [LONG], 48, "head_tail").ids
    content = [i for i, s in zip(ids[0], special[0], strict=True) if not s]
    head = int((48 - 2) * HEAD_SHARE)
    assert len(window) == 48 and window[0] == ids[0][0] and window[-1] == ids[0][-1]
    assert window[1 : 1 + head] == content[:head] and window[1 + head : -1] == content[-(46 - head) :]


def test_chunk_windows_cover_every_token_within_max_length(tokenizer) -> None:
    ids, special = full_encodings(tokenizer, [LONG])
    windows = window_positions(special[0], 48, "chunks")
    assert len(windows) > 1 and all(len(w) <= 48 for w in windows)
    assert set().union(*windows) == set(range(len(ids[0])))  # every token, specials included
    assert all(w[0] == 0 and w[-1] == len(ids[0]) - 1 for w in windows)  # each starts and ends as a text


def test_a_huge_text_costs_at_most_max_windows(tokenizer) -> None:
    windows = encode_windows(tokenizer, [" ".join(["sleep"] * 5000)], 32, "chunks")
    assert len(windows.ids) == MAX_WINDOWS and all(len(row) == 32 for row in windows.ids)


def test_an_unknown_mode_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="head_tail"):
        window_positions([True, False, False, True], 3, "middle")


def test_window_logits_aggregate_to_one_row_per_text() -> None:
    windows = Windows([[1], [2], [3], [4]], np.array([0, 1, 1, 2]), 3)
    logits = np.array([[1.0, 0.0], [2.0, -4.0], [0.0, 2.0], [5.0, 5.0]], dtype=np.float32)  # (W, C)
    mean = aggregate_logits(logits, windows, multi_label=False)
    peak = aggregate_logits(logits, windows, multi_label=True)
    assert mean.shape == peak.shape == (3, 2)
    np.testing.assert_allclose(mean, [[1, 0], [1, -1], [5, 5]])
    np.testing.assert_allclose(peak, [[1, 0], [2, 2], [5, 5]])
    one = Windows([[1], [2]], np.arange(2), 2)  # one window per text: the logits as they are
    for multi_label in (False, True):
        np.testing.assert_array_equal(aggregate_logits(logits[:2], one, multi_label), logits[:2])


def test_a_config_typo_names_the_dotted_key() -> None:
    with pytest.raises(ConfigError, match=r"model\.long_text"):
        load_config(None, ["model.long_text=head_tale"])


def test_a_run_without_the_key_reads_long_texts_by_truncation(trained_run: Path, tmp_path: Path) -> None:
    old = load_predictor(with_mode(trained_run, tmp_path / "old", None))
    assert old.model.spec.long_text == "truncate"
    np.testing.assert_array_equal(
        old.predict_proba([LONG]), load_predictor(trained_run).predict_proba([LONG])
    )


def test_a_run_with_an_unknown_mode_is_refused_naming_the_file(trained_run: Path, tmp_path: Path) -> None:
    from mindscreen.contract import ContractError

    broken = with_mode(trained_run, tmp_path / "broken", "middle")
    with pytest.raises(ContractError, match=r"model\.json has long_text 'middle', not one of truncate"):
        load_predictor(broken)


def test_chunks_predicts_the_aggregate_of_its_windows(trained_run: Path, tmp_path: Path) -> None:
    run = load_predictor(with_mode(trained_run, tmp_path / "chunks", "chunks"))
    texts = [*SHORT, LONG]
    probs = run.predict_proba(texts)
    windows = encode_windows(run.tokenizer, [LONG], run.model.spec.max_length, "chunks")
    each = predict_logits(run.model, windows.ids, run.tokenizer.pad_token_id, 8)  # (W, C)
    expected = each.max(axis=0) if run.multi_label else each.mean(axis=0)
    assert probs.shape == (4, len(run.labels)) and len(windows.ids) > 1
    np.testing.assert_allclose(run.predict_logits([LONG])[0], expected, atol=1e-5)
    np.testing.assert_allclose(probs[:3], load_predictor(trained_run).predict_proba(SHORT), atol=1e-6)


@pytest.mark.parametrize("mode", LONG_TEXT_MODES)
def test_seen_spans_mark_the_words_each_mode_reads(trained_run: Path, tmp_path: Path, mode: str) -> None:
    run = load_predictor(with_mode(trained_run, tmp_path / mode, mode))
    words = segment(LONG)
    flags = seen_words(run, LONG, words)
    head = int(46 * HEAD_SHARE)
    expected = {
        "truncate": [i < 46 for i in range(90)],
        "head_tail": [i < head or i >= 90 - (46 - head) for i in range(90)],
        "chunks": [True] * 90,
    }[mode]
    assert flags == expected
    assert seen_spans(run.tokenizer, "short text", 48, mode) == [(0, len("short text"))]
    if mode != "chunks":  # token-level methods read the one window prediction reads
        assert (
            tokenize(run.tokenizer, LONG, 48, mode).ids
            == encode_windows(run.tokenizer, [LONG], 48, mode).ids[0]
        )
    else:
        with pytest.raises(ValueError, match="occlusion"):
            tokenize(run.tokenizer, LONG, 48, mode)


@pytest.mark.parametrize("mode", ["head_tail", "chunks"])
def test_an_onnx_export_reads_long_texts_as_its_run(trained_run: Path, tmp_path: Path, mode: str) -> None:
    from mindscreen.export import check_export, export_onnx

    run_dir = with_mode(trained_run, tmp_path / mode, mode)
    export = export_onnx(run_dir, tmp_path / f"{mode}-onnx", int8=False)
    texts = [*SHORT, LONG, " ".join(demo_texts()[:8])]
    check = check_export(run_dir, export, texts, save=False)
    assert check["passed"] and check["fp32"]["max_abs_diff"] <= 1e-4
    assert json.loads((export / "model.json").read_text())["long_text"] == mode  # the export keeps it
    onnx, run = load_predictor(export), load_predictor(run_dir)
    assert onnx.tokenizer.windows(texts).ids == encode_windows(run.tokenizer, texts, 48, mode).ids
    words = segment(LONG)
    assert seen_words(onnx, LONG, words) == seen_words(run, LONG, words)


def test_training_with_chunks_trains_on_one_window_and_scores_all(
    tiny_bert_dir: Path, tmp_path: Path
) -> None:
    from mindscreen.training import train

    config = tiny_config(tmp_path / "run", tiny_bert_dir, model={"max_length": 16, "long_text": "chunks"})
    result = train(config, progress=False)
    run = load_predictor(tmp_path / "run")
    assert run.model.spec.long_text == "chunks" and "macro_f1" in result.metrics["test"]
    dev = demo_texts()[:30]
    assert len(encode_windows(run.tokenizer, dev, 16, "chunks").ids) > len(dev)  # the setting bites
    assert run.predict_proba(dev).shape == (30, len(run.labels))


def test_a_chunks_run_is_explained_by_occlusion_with_a_note(trained_run: Path, tmp_path: Path) -> None:
    from mindscreen.explain import explain

    run = load_predictor(with_mode(trained_run, tmp_path / "chunks", "chunks"))
    (found,) = explain(run, [LONG], method="integrated_gradients")
    assert found.labels[0].method == "occlusion" and "one window" in (found.labels[0].note or "")
    assert all(word.score is not None for word in found.labels[0].words)  # every word is read


def test_an_ensemble_and_a_pipeline_read_a_chunks_run_as_it_does(trained_run: Path, tmp_path: Path) -> None:
    from mindscreen.ensemble import build_ensemble, validate_spec
    from mindscreen.pipeline import load_pipeline

    run_dir = with_mode(trained_run, tmp_path / "chunks", "chunks")
    members = [{"run": str(run_dir), "name": "a"}, {"run": str(run_dir), "name": "b"}]
    spec = {"output_dir": str(tmp_path / "twins"), "data": {"dir": "demo"}, "members": members}
    spec["combine"] = {"calibrate": False}
    ensemble = build_ensemble(validate_spec(spec), progress=False).ensemble
    run, texts = load_predictor(run_dir), [*SHORT, LONG]
    np.testing.assert_allclose(ensemble.predict_proba(texts), run.predict_proba(texts), atol=1e-5)
    (result,) = load_pipeline(run_dir).classify([LONG])
    assert result.probabilities.keys() == set(run.labels)
