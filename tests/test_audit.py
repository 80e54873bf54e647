"""mindscreen audit: each check on small hand-built files, privacy of the outputs, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mindscreen.audit import AuditSettings, audit_data, data_config
from mindscreen.audit.lengths import TokenCounter
from mindscreen.audit.minhash import near_duplicate_pairs, shingle_sets
from mindscreen.cli import main
from mindscreen.config import ConfigError
from mindscreen.data import DataError

SECRET = "zebra sentinel: my private words about feeling low"
SCRIPT = "<script>alert('owned')</script> and a <b>bold</b> claim"
PETS = ["cat", "dog", "purr", "whiskers", "kitten", "puppy", "leash", "fur", "bark", "meow"]
MONEY = ["stock", "market", "shares", "bank", "loan", "interest", "budget", "invest", "price", "salary"]
FAST = AuditSettings(label_issues=False)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def sentences(words: list[str], count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, size=8)) for _ in range(count)]


def two_topics(folder: Path, flipped_row: int = 7) -> Path:
    """Train: 40 pet and 40 money texts, labelled by topic, except one pet text labelled money."""
    rows = [{"text": t, "label": "pets"} for t in sentences(PETS, 40, 0)]
    rows += [{"text": t, "label": "money"} for t in sentences(MONEY, 40, 1)]
    rows[flipped_row - 1]["label"] = "money"
    folder.mkdir(exist_ok=True)
    return write_jsonl(folder / "train.jsonl", rows)


# --- duplicates --------------------------------------------------------------------------


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    """Train has an exact copy (case and spacing differ) and a conflicting copy; test repeats train."""
    train = [
        {"text": "I can't sleep at night", "label": "stress"},
        {"text": "a quiet walk by the river", "label": "neutral"},
        {"text": "i can't  SLEEP at night ", "label": "stress"},
        {"text": "everything feels heavy today", "label": "stress"},
        {"text": "everything feels heavy today", "label": "neutral"},
        {"text": "the exam tomorrow is all I can think about", "label": "stress"},
    ]
    write_jsonl(tmp_path / "train.jsonl", train)
    pd.DataFrame(
        {
            "text": [
                "a quiet walk by the river",
                "the exam tomorrow is all I can think about!",
                "lunch was fine",
            ],
            "label": ["neutral", "stress", "neutral"],
        }
    ).to_csv(tmp_path / "test.csv", index=False)
    return tmp_path


def test_exact_duplicates_ignore_case_and_whitespace_and_count_within_and_across_splits(leaky: Path) -> None:
    duplicates = audit_data(leaky, settings=FAST).findings["duplicates"]
    exact = duplicates["exact"]
    assert exact["groups"] == 3 and exact["extra_copies_within_split"] == {"train": 2, "test": 0}
    rows = [group["rows"] for group in exact["list"]]
    assert {"train": [1, 3]} in rows and {"train": [2], "test": [1]} in rows
    leak = next(pair for pair in duplicates["leakage"] if pair["to"] == "test")
    assert leak["exact_texts"] == 1 and leak["exact_rows"] == 1


def test_duplicates_with_different_labels_are_conflicting_and_listed_first(leaky: Path) -> None:
    exact = audit_data(leaky, settings=FAST).findings["duplicates"]["exact"]
    assert exact["conflicting_groups"] == 1
    first = exact["list"][0]
    assert first["conflicting"] and first["rows"] == {"train": [4, 5]}
    assert first["labels"] == [["neutral"], ["stress"]]


def test_a_near_duplicate_in_test_counts_as_leakage(leaky: Path) -> None:
    duplicates = audit_data(leaky, settings=FAST).findings["duplicates"]
    assert duplicates["near"]["groups"] == 1
    assert duplicates["near"]["list"][0]["rows"] == {"train": [6], "test": [2]}
    leak = next(pair for pair in duplicates["leakage"] if pair["to"] == "test")
    assert leak["exact_or_near_rows"] == 2


def test_near_duplicate_pairs_equal_the_brute_force_jaccard_pairs() -> None:
    rng = np.random.default_rng(3)
    base = sentences(PETS + MONEY, 40, 5)
    edited = [" ".join(text.split()[: int(rng.integers(5, 8))]) for text in base[:20]]  # shortened copies
    texts = base + edited
    pairs, similarity = near_duplicate_pairs(texts, threshold=0.7)
    shingles = shingle_sets(texts)
    sets = [set(shingles[i].indices) for i in range(len(texts))]
    expected = {
        (i, j)
        for i, j in combinations(range(len(texts)), 2)
        if len(sets[i] & sets[j]) / len(sets[i] | sets[j]) >= 0.7
    }
    assert expected, "the edited copies should make some pairs"
    assert {tuple(pair) for pair in pairs.tolist()} == expected
    assert np.all(similarity >= 0.7)


# --- rows that training would reject -----------------------------------------------------


def test_empty_blank_near_empty_and_non_text_rows_are_reported_by_row_not_raised(tmp_path: Path) -> None:
    cells: list[Any] = [
        "a normal text here",
        None,
        42,
        "",
        "   ",
        "ok",
        "12345 678",
        ["a", "list"],
        "fine text again",
    ]
    write_jsonl(
        tmp_path / "posts.jsonl",
        [{"text": cell, "label": "a" if i % 2 else "b"} for i, cell in enumerate(cells)],
    )
    problems = audit_data(tmp_path / "posts.jsonl", settings=FAST).findings["text_problems"]
    assert problems == {
        "missing": {"posts": [2]},
        "not_text": {"posts": [3, 8]},
        "empty": {"posts": [4]},
        "whitespace": {"posts": [5]},
        "near_empty": {"posts": [6]},
        "no_letters": {"posts": [7]},
    }


def test_rows_without_a_label_and_labels_unknown_to_train_are_listed(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "train.jsonl", [{"text": "first text", "label": "a"}, {"text": "second one", "label": "b"}]
    )
    write_jsonl(
        tmp_path / "test.jsonl",
        [
            {"text": "third text", "label": None},
            {"text": "fourth", "label": "c"},
            {"text": "fifth", "label": "a"},
        ],
    )
    findings = audit_data(tmp_path, settings=FAST).findings
    assert findings["label_problems"] == {"no_label": {"test": [1]}, "unknown_to_train": {"test": [2]}}


def test_class_balance_counts_each_label_per_split(leaky: Path) -> None:
    balance = audit_data(leaky, settings=FAST).findings["class_balance"]
    assert balance["train"]["counts"] == {"neutral": 2, "stress": 4}
    assert balance["train"]["imbalance_ratio"] == 2.0 and balance["test"]["counts"]["neutral"] == 2


# --- label errors ------------------------------------------------------------------------


def test_cleanlab_flags_a_flipped_label_among_well_separated_classes(tmp_path: Path) -> None:
    two_topics(tmp_path, flipped_row=7)
    issues = audit_data(tmp_path / "train.jsonl").findings["label_issues"]
    assert issues["checked_rows"] == 80 and issues["model_accuracy"] > 0.9
    assert issues["list"][0] == {
        "split": "train",
        "row": 7,
        "given": ["money"],
        "suggested": ["pets"],
        "quality": issues["list"][0]["quality"],
    }
    assert issues["flagged"] <= 3


def test_multi_label_data_is_audited_with_one_model_per_label(tmp_path: Path) -> None:
    rows = [{"text": t, "labels": ["pets"]} for t in sentences(PETS, 30, 0)]
    rows += [{"text": t, "labels": ["money"]} for t in sentences(MONEY, 30, 1)]
    rows += [
        {"text": a + " " + b, "labels": ["money", "pets"]}
        for a, b in zip(sentences(PETS, 20, 2), sentences(MONEY, 20, 3), strict=True)
    ]
    rows[4]["labels"] = ["money"]  # a pet text labelled money only
    write_jsonl(tmp_path / "train.jsonl", rows)
    findings = audit_data(tmp_path / "train.jsonl").findings
    assert findings["task"] == "multi-label"
    assert findings["class_balance"]["train"]["counts"] == {"money": 51, "pets": 49}
    assert findings["label_issues"]["list"][0]["row"] == 5


# --- token lengths -----------------------------------------------------------------------


def test_truncated_share_counts_texts_longer_than_each_max_length(tmp_path: Path) -> None:
    texts = [" ".join(["word"] * n) for n in (5, 40, 90, 150, 300)]
    write_jsonl(tmp_path / "texts.jsonl", [{"text": text} for text in texts])
    lengths = audit_data(tmp_path / "texts.jsonl", settings=AuditSettings(max_lengths=(64, 128))).findings[
        "lengths"
    ]
    counted = TokenCounter("minilm").count(texts)
    assert counted.tolist() == [n + 2 for n in (5, 40, 90, 150, 300)]  # one token per word plus [CLS], [SEP]
    row = lengths["splits"]["texts"]
    assert row["truncated"]["64"]["rows"] == 3 and row["truncated"]["128"]["rows"] == 2
    assert row["max"] == 302 and lengths["encoder_limit"] == 512


def test_a_local_encoder_folder_counts_like_its_transformers_tokenizer(tiny_bert_dir: Path) -> None:
    from transformers import AutoTokenizer

    texts = ["i feel fine", "I could not sleep again, and the exam is tomorrow!"]
    expected = [len(ids) for ids in AutoTokenizer.from_pretrained(tiny_bert_dir)(texts)["input_ids"]]
    assert TokenCounter(str(tiny_bert_dir)).count(texts).tolist() == expected


# --- privacy -----------------------------------------------------------------------------


def test_console_and_json_show_row_numbers_but_never_a_text(
    leaky: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for split in ("train.jsonl",):
        rows = [json.loads(line) for line in (leaky / split).read_text().splitlines()]
        rows += [{"text": SECRET, "label": "stress"}, {"text": SECRET, "label": "neutral"}]
        write_jsonl(leaky / split, rows)
    output = tmp_path / "out"
    assert main(["audit", str(leaky), "--output", str(output)]) == 0
    captured = capsys.readouterr()
    text = (output / "audit.json").read_text()
    assert "train rows 7, 8" in captured.out
    for shown in (captured.out, captured.err, text):
        assert "sentinel" not in shown and "sleep" not in shown and "river" not in shown
    assert SECRET in (output / "audit.html").read_text()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.data: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.data.append(data)


def test_the_html_escapes_markup_in_texts_and_warns_that_it_holds_texts(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", [{"text": SCRIPT, "label": "a"}, {"text": SCRIPT, "label": "b"}])
    audit_data(tmp_path / "train.jsonl", settings=FAST, output_dir=tmp_path / "out")
    page = (tmp_path / "out" / "audit.html").read_text()
    parser = _Tags()
    parser.feed(page)
    assert "script" not in parser.tags and "link" not in parser.tags and "img" not in parser.tags
    assert SCRIPT in "".join(parser.data)  # shown as text
    assert "shows the texts" in page and "http" not in page


# --- bad input ---------------------------------------------------------------------------


def test_a_missing_text_column_names_file_column_and_fix_without_quoting_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pd.DataFrame({"body": [SECRET, "other"], "label": ["a", "b"]}).to_csv(tmp_path / "posts.csv", index=False)
    assert main(["audit", str(tmp_path / "posts.csv"), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "column 'text' not found" in err and "posts.csv" in err and "--text-column body" in err
    assert "sentinel" not in err
    assert main(["audit", str(tmp_path / "posts.csv"), "--text-column", "body", "--label-column", "tag"]) == 2
    err = capsys.readouterr().err
    assert "'tag'" in err and "sentinel" not in err


def test_a_file_without_header_fails_without_echoing_its_first_text(tmp_path: Path) -> None:
    (tmp_path / "raw.csv").write_text(f"{SECRET},a\nanother text,b\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        audit_data(tmp_path / "raw.csv", settings=FAST)
    assert "sentinel" not in str(info.value) and "Add a header row" in str(info.value)


def test_only_data_overrides_are_accepted() -> None:
    assert data_config(["data.label_delimiter=;"], {"text_column": "body"}).text_column == "body"
    with pytest.raises(ConfigError, match="data.\\* settings only"):
        data_config(["train.lr=1e-3"])


def test_data_without_labels_gets_the_text_checks_only(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "texts.jsonl", [{"text": "same text"}, {"text": "same text"}, {"text": "x"}])
    findings = audit_data(tmp_path / "texts.jsonl").findings
    assert (
        findings["task"] == "unlabelled" and findings["label_issues"]["skipped"] == "the data has no labels"
    )
    assert findings["duplicates"]["exact"]["groups"] == 1 and findings["text_problems"] == {
        "near_empty": {"texts": [3]}
    }


# --- the command -------------------------------------------------------------------------


def test_audit_of_the_demo_set_writes_json_and_html_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-q", "audit", "demo", "--output", str(tmp_path / "demo"), "--max-length", "32,64"]) == 0
    out = capsys.readouterr().out
    findings = json.loads((tmp_path / "demo" / "audit.json").read_text())
    assert set(findings["splits"]) == {"train", "dev", "test"} and findings["task"] == "multi-label"
    assert findings["label_issues"]["checked_rows"] == 600 and "Likely label errors" in out
    assert set(findings["lengths"]["splits"]["train"]["truncated"]) == {"32", "64"}


def test_strict_exits_1_on_leakage_or_conflicts(leaky: Path, tmp_path: Path) -> None:
    assert main(["-q", "audit", str(leaky), "--output", str(tmp_path / "a"), "--strict"]) == 1
    assert main(["-q", "audit", "demo", "--output", str(tmp_path / "b"), "--strict"]) == 0


def test_delimited_and_flag_column_multi_labels_are_read_by_the_cli(tmp_path: Path) -> None:
    pd.DataFrame(
        {
            "text": ["cats purr", "loans and interest", "cats and loans"],
            "tags": ["pets", "money", "pets|money"],
        }
    ).to_csv(tmp_path / "d.csv", index=False)
    assert (
        main(
            [
                "-q",
                "audit",
                str(tmp_path / "d.csv"),
                "--label-column",
                "tags",
                "--label-delimiter",
                "|",
                "--output",
                str(tmp_path / "o1"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "o1" / "audit.json").read_text())["class_balance"]["d"]["counts"] == {
        "money": 2,
        "pets": 2,
    }
    pd.DataFrame({"text": ["cats purr", "loans"], "pets": [1, 0], "money": [0, 1]}).to_csv(
        tmp_path / "f.csv", index=False
    )
    assert (
        main(
            [
                "-q",
                "audit",
                str(tmp_path / "f.csv"),
                "--label-columns",
                "pets,money",
                "--output",
                str(tmp_path / "o2"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "o2" / "audit.json").read_text())["labels"] == ["pets", "money"]


def test_without_cleanlab_the_command_names_the_audit_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "cleanlab", None)
    assert main(["audit", "demo"]) == 2
    assert "pip install 'mindscreen[audit]'" in capsys.readouterr().err


def test_importing_mindscreen_and_the_audit_package_does_not_import_cleanlab() -> None:
    code = "import sys, mindscreen, mindscreen.audit; print('cleanlab' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
