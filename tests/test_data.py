"""Tests of mindscreen.data: file formats, label shapes, splits, errors and privacy."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mindscreen.config import DataConfig, SplitConfig
from mindscreen.data import (
    MAX_CHARS,
    DataError,
    DataQualityWarning,
    DuplicateTextWarning,
    Split,
    Splits,
    cut_texts,
    load_labelled_file,
    load_splits,
    read_texts,
    resolve_data_dir,
    write_table,
)
from mindscreen.data.quality import normalize_text, text_problem
from mindscreen.data.stratify import split_rows, stratum_keys

SHARED = Path("/work/shared/data")
SECRET = "Quillfeather whispered my private sorrow 7781"
FORMATS = ["csv", "tsv", "jsonl", "json", "parquet"]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_frame(path: Path, frame: pd.DataFrame) -> Path:
    """Write with pandas directly, so reading is not tested against our own writer."""
    if path.suffix in (".jsonl", ".json"):
        frame.to_json(path, orient="records", lines=True)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, sep="\t" if path.suffix == ".tsv" else ",", index=False)
    return path


def rows(labels: list[Any], key: str = "label", start: int = 0) -> list[dict[str, Any]]:
    return [{"text": f"text number {start + i}", key: label} for i, label in enumerate(labels)]


def load(**kwargs: Any) -> Splits:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DuplicateTextWarning)
        return load_splits(DataConfig(**kwargs))


def error_of(**kwargs: Any) -> str:
    with pytest.raises(DataError) as info:
        load_splits(DataConfig(**kwargs))
    return str(info.value)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A single-label folder: train/dev/test.jsonl with labels a, b, c."""
    write_jsonl(tmp_path / "train.jsonl", rows(["a", "b", "c", "b", "a", "c"]))
    write_jsonl(tmp_path / "dev.jsonl", rows(["c", "a"], start=100))
    write_jsonl(tmp_path / "test.jsonl", rows(["b"], start=200))
    return tmp_path


# --- file formats -------------------------------------------------------------------------


@pytest.mark.parametrize("ext", FORMATS)
def test_every_format_reads_the_same_splits(tmp_path: Path, ext: str) -> None:
    for name, labels, start in [("train", ["x", "y", "x"], 0), ("dev", ["y", "x"], 10), ("test", ["x"], 20)]:
        write_frame(tmp_path / f"{name}.{ext}", pd.DataFrame(rows(labels, start=start)))
    splits = load(dir=str(tmp_path))
    assert splits.label_names == ["x", "y"]
    assert not splits.multi_label
    assert splits.train.texts == ["text number 0", "text number 1", "text number 2"]
    np.testing.assert_array_equal(splits.train.labels, [[1, 0], [0, 1], [1, 0]])
    assert splits.train.labels.dtype == np.float32
    assert splits.dev.name == "dev" and splits.dev.source == str(tmp_path / f"dev.{ext}")
    assert splits.test is not None and splits.test.texts == ["text number 20"]


def test_json_file_may_hold_one_array_of_objects(tmp_path: Path) -> None:
    (tmp_path / "train.json").write_text(json.dumps(rows(["a", "b"])))
    frame, texts = read_texts(tmp_path / "train.json")
    assert texts == ["text number 0", "text number 1"] and list(frame.columns) == ["text", "label"]


def test_csv_cells_are_kept_as_written(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text('\ufeffid,text\n007,NA\n008,"  spaced, quoted  "\n')
    frame, texts = read_texts(tmp_path / "in.csv")
    assert texts == ["NA", "  spaced, quoted  "]
    assert frame["id"].tolist() == ["007", "008"]


@pytest.mark.parametrize("ext", FORMATS)
def test_write_table_round_trips_through_read_texts(tmp_path: Path, ext: str) -> None:
    frame = pd.DataFrame({"text": ["one", "two"], "p_stress": [0.25, 0.75]})
    write_table(frame, tmp_path / "out" / f"pred.{ext}")
    back, texts = read_texts(tmp_path / "out" / f"pred.{ext}")
    assert texts == ["one", "two"]
    assert [float(v) for v in back["p_stress"]] == [0.25, 0.75]


def test_unknown_extension_names_the_file_and_the_supported_ones(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("text,label\nhello,a\n")
    message = error_of(train=str(tmp_path / "train.txt"))
    assert "train.txt" in message and ".csv, .tsv, .jsonl, .json, .parquet" in message
    with pytest.raises(DataError, match="unknown extension '.xlsx'"):
        write_table(pd.DataFrame({"text": ["a"]}), tmp_path / "out.xlsx")


def test_malformed_json_line_is_named_by_line_number(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text('{"text": "fine", "label": "a"}\n{"text": "' + SECRET + "\n")
    message = error_of(dir=str(tmp_path))
    assert "train.jsonl, line 2: not valid JSON" in message
    assert SECRET not in message


def test_json_line_that_is_not_an_object_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text('{"text": "fine", "label": "a"}\n["a", "b"]\n')
    assert "line 2: expected a JSON object" in error_of(dir=str(tmp_path))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("train.csv", b'text,label\n"' + SECRET.encode() + b'",a,extra\nb,c,d,e\n'),
        ("train.csv", b"text,label\n\xff\xfe bad bytes,a\n"),
        ("train.parquet", b"not a parquet file at all"),
        ("train.csv", b""),
    ],
    ids=["ragged-csv", "not-utf8", "corrupt-parquet", "empty-file"],
)
def test_unreadable_files_raise_a_data_error_naming_the_file(
    tmp_path: Path, name: str, content: bytes
) -> None:
    (tmp_path / name).write_bytes(content)
    message = error_of(train=str(tmp_path / name))
    assert name in message
    assert SECRET not in message


def test_missing_files_and_folders_are_named(tmp_path: Path, folder: Path) -> None:
    assert "dev file not found" in error_of(dir=str(folder), dev=str(tmp_path / "nope.csv"))
    assert "data folder not found" in error_of(dir=str(tmp_path / "absent"))
    assert "no training data" in error_of()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.md").write_text("hi")
    message = error_of(dir=str(empty))
    assert "no train file" in message and "notes.md" in message


def test_two_train_files_in_one_folder_are_ambiguous(folder: Path) -> None:
    write_frame(folder / "train.csv", pd.DataFrame(rows(["a", "b"])))
    assert "several train files" in error_of(dir=str(folder))


# --- columns and labels -------------------------------------------------------------------


def test_missing_text_column_lists_the_columns_and_suggests_the_setting(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("body,tag\nhello,a\n")
    message = error_of(train=str(tmp_path / "train.csv"))
    assert "column 'text' not found in" in message and "train.csv" in message
    assert "columns are: 'body', 'tag'. Set data.text_column=body" in message


def test_missing_text_column_suggests_the_column_that_looks_like_text_not_the_first(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "post_id": ["t3_a81kq9", "t3_b72mz1"],
            "post_body": [SECRET, "exams next week and i cannot sleep"],
            "label": ["stress", "neutral"],
        }
    )
    message = error_of(train=str(write_frame(tmp_path / "train.csv", frame)))
    assert "Set data.text_column=post_body" in message and "post_id" in message  # listed, not suggested
    assert "data.text_column=post_id" not in message and SECRET not in message and "t3_a8" not in message


def test_missing_text_column_suggests_no_column_when_none_holds_strings(tmp_path: Path) -> None:
    frame = pd.DataFrame({"post_id": [1, 2], "score": [0.5, 0.7], "label": [0, 1]})
    message = error_of(train=str(write_frame(tmp_path / "train.parquet", frame)))
    assert "Set data.text_column=NAME (the column holding the texts)" in message


def test_missing_column_messages_name_the_setting_the_caller_gives(tmp_path: Path) -> None:
    path = write_frame(tmp_path / "t.csv", pd.DataFrame({"body": ["a calm day"], "tag": ["a"]}))
    flags = {"text_column": "--text-column", "label_column": "--label-column"}
    with pytest.raises(DataError, match="Pass --text-column body$"):
        load_labelled_file(path, DataConfig(), ["a"], False, flags)
    with pytest.raises(DataError, match="Pass --label-column tag "):
        load_labelled_file(path, DataConfig(text_column="body"), ["a"], False, flags)
    with pytest.raises(DataError, match="Pass --text-column body$"):
        read_texts(path, setting="--text-column")


def test_file_without_header_does_not_echo_its_first_text(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text(f"{SECRET} and a few more words,a\nother text,b\n")
    message = error_of(train=str(tmp_path / "train.csv"))
    assert SECRET not in message and "not shown" in message and "header" in message


def test_a_headerless_file_whose_first_text_is_short_is_not_quoted_and_the_header_is_suggested(
    tmp_path: Path,
) -> None:
    (tmp_path / "train.csv").write_text("nothing matters anymore,depression\nwent for a walk,neutral\n")
    message = error_of(train=str(tmp_path / "train.csv"))
    assert "nothing matters" not in message and "<column 1: 23 characters, not shown>" in message
    assert "'depression'" in message and "no header row" in message and "data.text_column" in message


def test_a_text_with_a_lone_surrogate_names_the_line_not_the_text(tmp_path: Path) -> None:
    # The JSON escape of half a character (an emoji cut in two), as a broken UTF-16 exporter writes it.
    lines = ['{"text": "fine", "label": "a"}', '{"text": "' + SECRET + ' \\ud83d", "label": "b"}']
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    message = error_of(train=str(tmp_path / "train.jsonl"))
    assert "line 2: invalid Unicode" in message and "surrogate" in message and SECRET not in message
    with pytest.raises(DataError, match="line 2: invalid Unicode"):
        read_texts(tmp_path / "train.jsonl")


def test_cut_texts_keeps_the_first_characters_and_names_the_cut_positions() -> None:
    texts, cut = cut_texts(["short", "x" * 12, "y" * 10], max_chars=10)
    assert texts == ["short", "x" * 10, "y" * 10] and cut == [1]
    assert cut_texts(["short"])[0] == ["short"] and MAX_CHARS == 5000


def test_custom_text_and_label_columns(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text(
        "body,tag\n" + "".join(f"text {i},{'ab'[i % 2]}\n" for i in range(20))
    )
    splits = load(train=str(tmp_path / "train.csv"), text_column="body", label_column="tag")
    assert splits.label_names == ["a", "b"] and splits.test is not None
    assert sorted(splits.train.texts + splits.dev.texts + splits.test.texts) == sorted(
        f"text {i}" for i in range(20)
    )


def test_label_column_defaults_to_labels_before_label(tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": ["t0", "t1"], "label": list("xx"), "labels": list("ab")})
    split = load_labelled_file(write_frame(tmp_path / "t.csv", frame), DataConfig(), ["a", "b"], False)
    np.testing.assert_array_equal(split.labels, [[1, 0], [0, 1]])


def test_missing_label_column_suggests_label_settings(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("text,tag\nhello,a\n")
    message = error_of(train=str(tmp_path / "train.csv"))
    assert "expected 'labels' or 'label'" in message and "data.label_column=tag" in message


def test_numeric_labels_become_strings(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("text,label\na,0\nb,1\nc,1\n")
    (tmp_path / "dev.jsonl").write_text('{"text": "d", "label": 1}\n{"text": "e", "label": 0.0}\n')
    splits = load(
        train=str(tmp_path / "train.csv"), dev=str(tmp_path / "dev.jsonl"), split=SplitConfig(test_fraction=0)
    )
    assert splits.label_names == ["0", "1"]
    np.testing.assert_array_equal(splits.dev.labels, [[0, 1], [1, 0]])
    assert splits.test is None


@pytest.mark.parametrize("cell", ['""', '"   "', "null"])
def test_missing_label_names_the_row_not_the_text(tmp_path: Path, cell: str) -> None:
    lines = ['{"text": "fine", "label": "a"}', '{"text": "also fine", "label": "b"}']
    lines.append(f'{{"text": "{SECRET}", "label": {cell}}}')
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    message = error_of(dir=str(tmp_path))
    assert "has no label in row 3 (data rows counted from 1, header not counted)" in message
    assert SECRET not in message


@pytest.mark.parametrize("text", ["", "   \t", None], ids=["empty", "blank", "null"])
def test_blank_or_missing_text_names_the_row(tmp_path: Path, text: str | None) -> None:
    data = rows(["a", "b"]) + [{"text": text, "label": "a"}, {"text": SECRET, "label": "b"}]
    write_jsonl(tmp_path / "train.jsonl", data)
    message = error_of(dir=str(tmp_path))
    assert "row 3 (data rows counted from 1" in message and "'text'" in message
    assert SECRET not in message


def test_blank_text_in_csv_names_the_data_row(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text(f"text,label\n{SECRET},a\n,b\nok,a\n")
    message = error_of(train=str(tmp_path / "train.csv"))
    assert "row 2 (" in message and SECRET not in message


@pytest.mark.parametrize(
    ("name", "lines"),
    [("in.csv", ["text,label", "a,x", "", "b,y"]), ("in.jsonl", ['{"text": "a"}', "", '{"text": "b"}'])],
)
def test_blank_line_is_a_textless_row_keeping_later_row_numbers(
    tmp_path: Path, name: str, lines: list[str]
) -> None:
    (tmp_path / name).write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"in row 2 \("):
        read_texts(tmp_path / name)
    (tmp_path / name).write_text("\n".join(line for line in lines if line) + "\n\n \n\n")
    assert read_texts(tmp_path / name)[1] == ["a", "b"]


def test_unknown_dev_label_names_the_label_and_the_known_labels(folder: Path) -> None:
    write_jsonl(folder / "dev.jsonl", rows(["a"]) + [{"text": SECRET, "label": "zebra"}])
    message = error_of(dir=str(folder))
    assert "unknown label(s) 'zebra' in row 2" in message and "'a', 'b', 'c'" in message
    assert "dev.jsonl" in message and SECRET not in message


def test_a_dev_file_taken_from_data_dir_beside_an_explicit_train_file_says_where_it_came_from(
    folder: Path, tmp_path: Path
) -> None:
    other = write_jsonl(tmp_path / "mine.jsonl", rows(["x", "y", "x", "y"]))
    message = error_of(dir=str(folder), train=str(other))
    assert "dev.jsonl" in message and "unknown label(s) 'a', 'c'" in message
    assert f"found in data.dir={folder}" in message and "data.dir=null" in message
    assert "found in data.dir" not in error_of(
        dir=str(folder), train=str(other), dev=str(folder / "dev.jsonl")
    )


def test_dataset_json_declares_the_label_order(folder: Path) -> None:
    (folder / "dataset.json").write_text(json.dumps({"task": "multi-class", "labels": ["c", "a", "b"]}))
    splits = load(dir=str(folder))
    assert splits.label_names == ["c", "a", "b"]
    np.testing.assert_array_equal(splits.dev.labels, [[1, 0, 0], [0, 1, 0]])


def test_label_missing_from_dataset_json_is_an_error(folder: Path) -> None:
    (folder / "dataset.json").write_text(json.dumps({"labels": ["a", "b"]}))
    assert "not in the declared label list: 'c'" in error_of(dir=str(folder))


def test_configured_labels_fix_the_label_set_and_order(folder: Path) -> None:
    splits = load(dir=str(folder), labels=["c", "b", "a", "d"])
    assert splits.label_names == ["c", "b", "a", "d"]
    assert splits.train.labels[:, 3].sum() == 0


def test_label_columns_exclude_the_other_label_formats() -> None:
    with pytest.raises(ValueError, match="label_columns"):
        DataConfig(label_columns=["a", "b"], label_delimiter="|")


# --- multi-label shapes -------------------------------------------------------------------

EXPECTED_MULTI = [[1, 0, 1], [0, 1, 0], [0, 0, 1]]  # rows: {anxiety, stress}, {sadness}, {stress}


def _multi_label_files(tmp_path: Path, shape: str) -> dict[str, Any]:
    labels = [["stress", "anxiety"], ["sadness"], ["stress"]]
    if shape == "jsonl-lists":
        return {"train": str(write_jsonl(tmp_path / "t.jsonl", rows(labels, key="labels")))}
    if shape == "parquet-lists":
        return {"train": str(write_frame(tmp_path / "t.parquet", pd.DataFrame(rows(labels, key="labels"))))}
    if shape == "delimited":
        frame = pd.DataFrame(rows([" | ".join(row) for row in labels]))
        return {"train": str(write_frame(tmp_path / "t.csv", frame)), "label_delimiter": "|"}
    frame = pd.DataFrame({"text": ["t0", "t1", "t2"], "anxiety": [1, 0, 0], "sadness": [0, 1, 0]})
    frame["stress"] = [1, 0, 1]
    return {
        "train": str(write_frame(tmp_path / "t.csv", frame)),
        "label_columns": ["anxiety", "sadness", "stress"],
    }


@pytest.mark.parametrize("shape", ["jsonl-lists", "parquet-lists", "delimited", "label-columns"])
def test_each_multi_label_shape_gives_the_same_matrix(tmp_path: Path, shape: str) -> None:
    kwargs = _multi_label_files(tmp_path, shape)
    frame = load_labelled_file(
        kwargs.pop("train"), DataConfig(**kwargs), ["anxiety", "sadness", "stress"], True
    )
    np.testing.assert_array_equal(frame.labels, EXPECTED_MULTI)
    assert frame.name == "t"


@pytest.mark.parametrize("shape", ["jsonl-lists", "parquet-lists", "delimited", "label-columns"])
def test_auto_task_detects_multi_label(tmp_path: Path, shape: str) -> None:
    kwargs = _multi_label_files(tmp_path, shape)
    if shape == "label-columns":
        dev = tmp_path / "dev.csv"
        dev.write_text("text,anxiety,sadness,stress\nd,0,0,0\n")
    else:
        dev = write_jsonl(tmp_path / "dev.jsonl", [{"text": "d", "labels": []}])
    splits = load(**kwargs, dev=str(dev), split=SplitConfig(test_fraction=0))
    assert splits.multi_label and splits.label_names == ["anxiety", "sadness", "stress"]
    np.testing.assert_array_equal(splits.dev.labels, [[0, 0, 0]])


def test_multi_class_task_rejects_rows_with_several_labels(tmp_path: Path) -> None:
    message = error_of(**_multi_label_files(tmp_path, "jsonl-lists"), task="multi_class")
    assert "row 1 (" in message and "data.task=multi_label" in message


def test_multi_label_task_accepts_single_label_strings(folder: Path) -> None:
    splits = load(dir=str(folder), task="multi_label")
    assert splits.multi_label and splits.train.labels.sum(axis=1).tolist() == [1.0] * 6


def test_label_columns_reject_values_other_than_0_or_1(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("text,a,b\nx,1,0\ny,maybe,1\n")
    message = error_of(train=str(tmp_path / "t.csv"), label_columns=["a", "b"])
    assert "label column 'a'" in message and "row 2 (" in message


def test_null_inside_a_label_list_is_a_missing_label(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", [{"text": "x", "labels": ["a", None]}])
    assert "no label in row 1" in error_of(dir=str(tmp_path))


# --- files and splitting ------------------------------------------------------------------


def test_explicit_paths_override_the_folder(tmp_path: Path, folder: Path) -> None:
    other = write_jsonl(tmp_path / "other_dev.jsonl", rows(["b", "b", "b"], start=300))
    splits = load(dir=str(folder), dev=str(other))
    assert splits.dev.source == str(other) and len(splits.dev.texts) == 3


def test_validation_file_counts_as_dev(folder: Path) -> None:
    (folder / "dev.jsonl").rename(folder / "validation.jsonl")
    assert load(dir=str(folder)).dev.source.endswith("validation.jsonl")


def test_resolve_data_dir_maps_demo_to_the_shipped_folder() -> None:
    assert resolve_data_dir("demo").parts[-2:] == ("mindscreen", "demo")
    assert resolve_data_dir("some/folder") == Path("some/folder")


def _imbalanced(tmp_path: Path) -> Path:
    labels = ["common"] * 150 + ["middle"] * 40 + ["rare"] * 9 + ["single"]
    return write_jsonl(tmp_path / "train.jsonl", rows(labels))


def test_missing_dev_and_test_are_split_stratified_and_partition_train(tmp_path: Path) -> None:
    splits = load(train=str(_imbalanced(tmp_path)), split=SplitConfig(dev_fraction=0.2, test_fraction=0.1))
    assert splits.test is not None
    parts = [splits.train, splits.dev, splits.test]
    assert sorted(t for part in parts for t in part.texts) == sorted(f"text number {i}" for i in range(200))
    assert [len(part.texts) for part in parts] == [140, 40, 20]
    for part, share in zip(parts, (0.7, 0.2, 0.1), strict=True):
        counts = part.labels.sum(axis=0)  # label order: common, middle, rare, single
        assert abs(counts[0] - 150 * share) <= 2 and abs(counts[1] - 40 * share) <= 2
    assert splits.train.labels[:, 3].sum() == 1  # a class of one row stays in train
    assert all(part.source == str(tmp_path / "train.jsonl") for part in parts)


def test_same_seed_gives_the_same_split_and_another_seed_another(tmp_path: Path) -> None:
    path = str(_imbalanced(tmp_path))
    first, again = (load(train=path, split=SplitConfig(seed=3)) for _ in range(2))
    other = load(train=path, split=SplitConfig(seed=4))
    assert first.dev.texts == again.dev.texts and first.train.texts == again.train.texts
    assert first.dev.texts != other.dev.texts


def test_zero_test_fraction_gives_no_test_split(folder: Path) -> None:
    (folder / "test.jsonl").unlink()
    assert load(dir=str(folder), split=SplitConfig(test_fraction=0)).test is None


def test_too_few_rows_to_split_is_an_error(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", rows(["a", "b"]))
    assert "too few to hold out" in error_of(dir=str(tmp_path))


def test_multi_label_split_stratifies_on_the_rarest_label(tmp_path: Path) -> None:
    labels = np.zeros((100, 3), dtype=np.float32)
    labels[:, 0] = 1  # every row is common
    labels[:10, 2] = 1  # ten rows also carry the rare label
    keys = stratum_keys(labels)
    assert keys[:10].tolist() == [2] * 10 and set(keys[10:].tolist()) == {0}
    assert stratum_keys(np.zeros((2, 3), dtype=np.float32)).tolist() == [-1, -1]
    train, dev, test = split_rows(keys, 0.2, 0.1, seed=0)
    assert np.isin(np.arange(10), dev).sum() == 2 and np.isin(np.arange(10), test).sum() == 1
    assert len(np.intersect1d(train, dev)) == 0 and len(train) + len(dev) + len(test) == 100


def test_texts_shared_between_splits_warn_with_counts_not_texts(folder: Path) -> None:
    write_jsonl(folder / "dev.jsonl", rows(["a", "b"]) + [{"text": SECRET, "label": "c"}])
    write_jsonl(
        folder / "test.jsonl", [{"text": "text number 0", "label": "a"}, {"text": SECRET, "label": "a"}]
    )
    with pytest.warns(DuplicateTextWarning) as record:
        load_splits(DataConfig(dir=str(folder)))
    message = str(record[0].message)
    assert "train/dev 2, train/test 1, dev/test 2" in message and SECRET not in message


def test_training_warns_with_counts_about_copies_within_a_split_and_conflicting_labels(folder: Path) -> None:
    extra = [{"text": SECRET, "label": "a"}, {"text": SECRET.upper() + "  ", "label": "b"}]
    write_jsonl(folder / "train.jsonl", rows(["a", "b", "c", "b", "a", "c"]) + extra)
    with pytest.warns(DuplicateTextWarning) as record:
        load_splits(DataConfig(dir=str(folder)))
    message = str(record[0].message)
    assert "within a split (extra copies): train 1" in message
    assert "1 duplicated text(s) carry different labels" in message and "Quillfeather" not in message


def test_training_warns_about_near_empty_texts_with_counts_only(folder: Path) -> None:
    write_jsonl(folder / "dev.jsonl", rows(["c", "a"], start=100) + [{"text": "ok", "label": "a"}])
    with pytest.warns(DataQualityWarning, match="near-empty texts .*: dev 1") as record:
        load_splits(DataConfig(dir=str(folder)))
    assert all("ok" not in str(item.message).split() for item in record)


def test_duplicates_are_compared_after_normalising_unicode_case_and_whitespace() -> None:
    assert normalize_text("  I CAN'T\tsleep\n") == normalize_text("i can't sleep") == "i can't sleep"
    assert normalize_text("ｆｕｌｌ width") == "full width"  # NFKC
    assert normalize_text("i cant sleep") != normalize_text("i can't sleep")
    assert [text_problem(cell) for cell in ("fine text", "ok", "12 34!", " ", "", None, 3.0)] == [
        None,
        "near_empty",
        "no_letters",
        "whitespace",
        "empty",
        "missing",
        "not_text",
    ]


# --- evaluation and prediction files ------------------------------------------------------


def test_load_labelled_file_reads_against_an_existing_label_set(folder: Path) -> None:
    split = load_labelled_file(folder / "dev.jsonl", DataConfig(), ["c", "b", "a"], multi_label=False)
    assert isinstance(split, Split) and split.name == "dev"
    np.testing.assert_array_equal(split.labels, [[1, 0, 0], [0, 0, 1]])
    with pytest.raises(DataError, match="unknown label"):
        load_labelled_file(folder / "dev.jsonl", DataConfig(), ["a", "b"], multi_label=False)


def test_read_texts_needs_only_a_text_column(tmp_path: Path) -> None:
    path = write_frame(tmp_path / "in.parquet", pd.DataFrame({"body": ["x", "y"], "id": [1, 2]}))
    frame, texts = read_texts(path, text_column="body")
    assert texts == ["x", "y"] and frame["id"].tolist() == [1, 2]
    with pytest.raises(DataError, match="Set text_column=body"):
        read_texts(path)


# --- the shared benchmark layout ----------------------------------------------------------

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"benchmark data folder {SHARED} is absent on this machine"
)


@needs_shared
def test_reads_shared_single_label_dataset_as_declared() -> None:
    with pytest.warns(DuplicateTextWarning):
        splits = load_splits(DataConfig(dir=str(SHARED / "dreaddit")))
    meta = json.loads((SHARED / "dreaddit" / "dataset.json").read_text())
    assert splits.label_names == meta["labels"] and not splits.multi_label
    for name in ("train", "dev", "test"):
        split = getattr(splits, name)
        assert split.labels.shape == (meta["splits"][name]["rows"], 2)
        assert split.labels.sum(axis=0).tolist() == [
            meta["splits"][name]["label_counts"][n] for n in meta["labels"]
        ]


@needs_shared
def test_reads_shared_multi_label_dataset_as_declared() -> None:
    with pytest.warns(DuplicateTextWarning):
        splits = load_splits(DataConfig(dir=str(SHARED / "goemotions")))
    meta = json.loads((SHARED / "goemotions" / "dataset.json").read_text())
    assert splits.multi_label and splits.label_names == meta["labels"]
    assert splits.test is not None and splits.train.labels.shape == (43410, 28)
    counts = meta["splits"]["dev"]["label_counts"]
    assert splits.dev.labels.sum(axis=0).tolist() == [counts[n] for n in meta["labels"]]
