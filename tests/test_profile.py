import json
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer

from mindscreen.data import Split, Splits
from mindscreen.data import profile as profile_module
from mindscreen.data.profile import EncoderFacts, measure_lengths, profile_splits, token_lengths

ENCODER = EncoderFacts("tiny", 32, 128)


def make_splits(train_texts: list[str], train_labels: list[list[int]], multi_label: bool = False) -> Splits:
    labels = np.asarray(train_labels, dtype=np.float32)
    dev = Split("dev", [train_texts[0], "a dev text of its own"], labels[:2], "dev.csv")
    names = [f"c{i}" for i in range(labels.shape[1])]
    return Splits(Split("train", train_texts, labels, "train.csv"), dev, None, names, multi_label)


def test_token_lengths_count_special_tokens_and_never_truncate(tiny_bert_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    texts = ["i feel fine today", " ".join(["tired"] * 300)]  # the second is past the 128-token limit
    expected = [len(tokenizer(t, truncation=False, verbose=False)["input_ids"]) for t in texts]
    assert token_lengths(tokenizer, texts).tolist() == expected
    assert expected[1] > 300
    assert tokenizer.model_max_length == 128  # the tokenizer's own truncation is not applied


def test_length_statistics_are_quantiles_and_shares_of_the_measured_texts(tiny_bert_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    texts = [" ".join(["sad"] * n) for n in range(1, 301)]
    stats = measure_lengths(tokenizer, texts)
    lengths = token_lengths(tokenizer, texts)
    assert stats.quantiles["max"] == lengths.max()
    assert (
        stats.quantiles["p50"] <= stats.quantiles["p90"] <= stats.quantiles["p95"] <= stats.quantiles["p99"]
    )
    assert stats.share_longer[128] == pytest.approx(np.mean(lengths > 128))
    assert stats.share_longer_than(64) == pytest.approx(np.mean(lengths > 64))
    assert stats.kept_tokens(10_000) == pytest.approx(lengths.mean())


def test_large_sets_are_measured_on_a_seeded_sample(
    tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    monkeypatch.setattr(profile_module, "LENGTH_SAMPLE", 50)
    texts = [" ".join(["calm"] * (n % 40 + 1)) for n in range(400)]
    first, again = measure_lengths(tokenizer, texts), measure_lengths(tokenizer, texts)
    assert first.texts == 50 and first.quantiles == again.quantiles


def test_profile_counts_classes_imbalance_and_duplicates(tiny_bert_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    texts = ["i am ok", "i am ok", "so tired", "so tired", "no sleep again", "worried all day"]
    labels = [[1, 0], [1, 0], [1, 0], [0, 1], [1, 0], [1, 0]]  # "so tired" twice, with two labels
    profile = profile_splits(make_splits(texts, labels), tokenizer, ENCODER)
    assert profile.rows == {"train": 6, "dev": 2}
    assert profile.class_counts["train"] == {"c0": 5, "c1": 1}
    assert profile.imbalance_ratio == 5.0
    assert profile.labels_per_text is None
    assert profile.duplicates["train_repeats"] == 2
    assert profile.duplicates["conflicting_labels"] == 1
    assert profile.duplicates["train_dev_shared"] == 1  # dev's first text comes from train


def test_multi_label_profile_reports_labels_per_text(tiny_bert_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    labels = [[1, 1, 0], [0, 0, 0], [1, 0, 0], [0, 0, 1]]
    profile = profile_splits(make_splits(["a b", "c d", "e f", "g h"], labels, True), tokenizer, ENCODER)
    assert profile.labels_per_text == {"mean": 1.0, "share_none": 0.25, "share_two_plus": 0.25}
    assert profile.imbalance_ratio == 2.0 and profile.multi_label


def test_profile_holds_no_text(tiny_bert_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    texts = [
        "nobody knows how heavy mornings feel",
        "sleepless worried thoughts",
        "nobody knows how heavy mornings feel",
    ]
    profile = profile_splits(make_splits(texts, [[1, 0], [0, 1], [1, 0]]), tokenizer, ENCODER)
    dumped = json.dumps(profile.to_dict()) + profile.summary()
    for word in {w for t in texts for w in t.split()} | {"a dev text of its own"}:
        assert word not in dumped
