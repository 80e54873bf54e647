"""The corpus job's parts: inputs, plans, reading a part, scoring it, the manifest (no Ray here;
tests/test_ray_engine.py runs the Ray engine)."""

import json
import os
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mindscreen.cli import main
from mindscreen.corpus import PartError
from mindscreen.corpus.align import align_parts
from mindscreen.corpus.inputs import InputFile, find_inputs
from mindscreen.corpus.manifest import JobKey, model_identity, open_job, pending
from mindscreen.corpus.plan import plan_parts
from mindscreen.corpus.reading import part_path, read_part
from mindscreen.corpus.scoring import TEMP_PREFIX, classify_rows, guarded, score_part
from mindscreen.data import DataError
from mindscreen.data.readers import read_table
from mindscreen.pipeline import Pipeline, Policy, load_pipeline, predict_table
from mindscreen.predictors import CalibratedPredictor

SENTINEL = "zebra-quokka-7731 feels hopeless"
GOOD = ["exams are close and i cannot sleep", "had a calm walk today", "i feel so alone lately", "work is ok"]


def read_all(parts: list, column: str) -> tuple[pd.DataFrame, list]:
    pieces = [read_part(part, column) for part in parts]
    frame = pd.concat([piece.table.to_pandas() for piece in pieces], ignore_index=True)
    return frame, [error for piece in pieces for error in piece.errors]


def plan(path: Path, part_rows: int, column: str = "text") -> list:
    return plan_parts([InputFile.of(path)], part_rows, column)


def test_csv_parts_hold_exactly_the_rows_read_table_reads(tmp_path: Path) -> None:
    source = tmp_path / "posts.csv"
    body = 'id,text\n1,plain\n2,"two\nlines, with ""quotes"""\n\n3,"a\r\nwindows break"\n4,last\n\n  \n'
    source.write_bytes(b"\xef\xbb\xbf" + body.encode())
    expected = read_table(source)
    for part_rows in (1, 2, 3, 10):
        parts = plan(source, part_rows)
        assert [p.start for p in parts] == list(range(0, len(expected), part_rows))
        frame, _ = read_all(parts, "text")
        pd.testing.assert_frame_equal(frame, expected)


def test_jsonl_parts_keep_every_line_as_a_row_and_mark_lines_that_do_not_parse(tmp_path: Path) -> None:
    source = tmp_path / "posts.jsonl"
    lines = [
        json.dumps({"id": 1, "text": "fine"}),
        "",
        "{not json " + SENTINEL,
        json.dumps([1, 2]),
        json.dumps({"id": 5, "text": 7}),
        json.dumps({"id": 6, "text": "ok", "extra": {"a": 1}}),
    ]
    source.write_text("\n".join(lines) + "\n\n\n")
    parts = plan(source, 4)
    assert [(p.start, p.stop) for p in parts] == [(0, 4), (4, 6)]
    frame, errors = read_all(parts, "text")
    assert frame["id"].tolist()[:1] == [1] and len(frame) == 6
    assert errors == [None, None, "line is not valid JSON", "line is a JSON list, not an object", None, None]
    assert pd.isna(frame["text"].tolist()[4])  # 7 is not a text: null in a column that stays strings
    assert all(read_part(part, "text").table.schema.field("text").type == pa.string() for part in parts)
    assert all(SENTINEL not in (error or "") for error in errors)


def test_parquet_parts_read_only_their_rows_across_row_groups(tmp_path: Path) -> None:
    source = tmp_path / "posts.parquet"
    table = pa.table({"id": list(range(23)), "text": [f"post {i}" for i in range(23)]})
    pq.write_table(table, source, row_group_size=5)
    for part_rows in (1, 4, 7, 50):
        frame, _ = read_all(plan(source, part_rows), "text")
        assert frame["id"].tolist() == list(range(23))


def test_part_names_come_from_the_file_and_rows_and_sort_in_row_order(tmp_path: Path) -> None:
    source = tmp_path / "posts.parquet"
    pq.write_table(pa.table({"text": [f"t{i}" for i in range(25)]}), source)
    names = [part.name for part in plan(source, 10)]
    assert names == [part.name for part in plan(source, 10)]  # the same on every run
    assert (
        names == sorted(names)
        and names[0].startswith("posts-")
        and names[0].endswith("0000000000-0000000010")
    )


def test_plans_refuse_a_json_array_and_a_missing_text_column_saying_what_to_do(tmp_path: Path) -> None:
    array = tmp_path / "posts.json"
    array.write_text(json.dumps([{"text": "a"}]))
    with pytest.raises(DataError, match="JSON lines"):
        plan(array, 10)
    table = tmp_path / "posts.csv"
    table.write_text("id,body\n1,hello\n")
    with pytest.raises(DataError, match="'text' not found.*body"):
        plan(table, 10)


def test_inputs_are_sorted_supported_files_without_hidden_ones_or_the_output_folder(tmp_path: Path) -> None:
    for name in ("b.csv", "a.jsonl", "notes.txt", ".hidden.csv", "out/x-0-1.parquet"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("text\nx\n")
    assert [Path(f.path).name for f in find_inputs(tmp_path, tmp_path / "out")] == ["a.jsonl", "b.csv"]
    globbed = find_inputs(str(tmp_path / "**" / "*.*"), tmp_path / "out")
    assert [Path(f.path).name for f in globbed] == ["a.jsonl", "b.csv"]
    with pytest.raises(DataError, match="no input files"):
        find_inputs(str(tmp_path / "*.tsv"))


def bad_rows_file(tmp_path: Path) -> Path:
    rows = [{"id": i, "text": text} for i, text in enumerate([*GOOD, SENTINEL])]
    rows += [{"id": 10, "text": ""}, {"id": 11, "text": "   "}, {"id": 12}, {"id": 13, "text": 42}]
    source = tmp_path / "posts.jsonl"
    source.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return source


def test_a_scored_part_has_the_single_process_columns_and_answers_and_an_error_per_bad_row(
    trained_run: Path, tmp_path: Path
) -> None:
    source = bad_rows_file(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    pipeline = load_pipeline(trained_run)
    [part] = plan(source, 100)
    summary = score_part(pipeline, part, out, "text", batch_size=2)
    assert summary["rows"] == 9 and summary["errors"] == 4 and SENTINEL not in json.dumps(summary)

    scored = pd.read_parquet(part_path(out, part))
    good = pd.DataFrame({"id": range(5), "text": [*GOOD, SENTINEL]})
    good.to_parquet(tmp_path / "good.parquet")
    predict_table(pipeline, tmp_path / "good.parquet", tmp_path / "single.parquet")
    single = pd.read_parquet(tmp_path / "single.parquet")
    assert list(scored.columns) == [*single.columns, "error"]
    ok = scored[scored["error"].isna()].reset_index(drop=True)
    assert ok["labels"].map(list).tolist() == single["labels"].map(list).tolist()
    probs = [c for c in single.columns if c.startswith("prob_")]
    np.testing.assert_allclose(ok[probs].to_numpy(), single[probs].to_numpy(), atol=1e-6)
    bad = scored[scored["error"].notna()]
    assert bad["id"].tolist() == [10, 11, 12, 13]
    assert bad["error"].tolist() == [
        "text is empty or blank",
        "text is empty or blank",
        "no text (null, missing or a blank line)",
        "text is not a string (found int)",
    ]
    assert bad[["labels", "risk", *probs]].isna().all().all()


class FailsOnSome(CalibratedPredictor):
    """A model that raises, quoting the text, on texts containing 'alone' (a fault to inject)."""

    kind: ClassVar[str] = "test"
    thresholds = np.array([0.5, 0.5])
    temperature = np.ones(1)

    @property
    def labels(self) -> list[str]:
        return ["neutral", "stress"]

    @property
    def multi_label(self) -> bool:
        return False

    def predict_logits(self, texts: list[str]) -> np.ndarray:
        for text in texts:
            if "alone" in text or "zebra" in text:
                raise ValueError(f"cannot score {text!r}")
        return np.zeros((len(texts), 2))


def failing_pipeline() -> Pipeline:
    return Pipeline(FailsOnSome(), Policy.build(["neutral", "stress"], False, [], ["neutral"]), np.ones(2))


def test_a_part_cuts_overlong_texts_as_predict_table_does_and_counts_them(
    trained_run: Path, tmp_path: Path
) -> None:
    source = tmp_path / "long.parquet"
    pd.DataFrame({"text": ["a calm day", "i keep going over the same worries " * 20]}).to_parquet(source)
    out = tmp_path / "out"
    out.mkdir()
    pipeline = load_pipeline(trained_run)
    [part] = plan(source, 100)

    summary = score_part(pipeline, part, out, "text", batch_size=4, max_chars=30)

    predict_table(pipeline, source, tmp_path / "single.parquet", max_chars=30)
    single, scored = pd.read_parquet(tmp_path / "single.parquet"), pd.read_parquet(part_path(out, part))
    probs = [c for c in single.columns if c.startswith("prob_")]
    assert summary["cut"] == 1 and scored["error"].isna().all()
    np.testing.assert_allclose(scored[probs].to_numpy(), single[probs].to_numpy(), atol=1e-6)


def test_a_row_the_model_fails_on_gets_an_error_and_the_other_rows_are_scored() -> None:
    texts = [*GOOD, SENTINEL]
    errors: list = [None] * len(texts)
    results = classify_rows(failing_pipeline(), texts, errors, batch_size=10)
    assert errors == [None, None, "the model failed on this row", None, "the model failed on this row"]
    assert [r is None for r in results] == [False, False, True, False, True]
    alone: list = [None]
    assert classify_rows(failing_pipeline(), [SENTINEL], alone, batch_size=1) == [None]
    assert alone == ["the model failed on this row"]  # one row is not enough to blame the model


def test_a_failing_part_raises_an_error_that_cannot_carry_a_text(tmp_path: Path) -> None:
    with pytest.raises(PartError, match="failed on each of the 2 rows") as caught:
        classify_rows(failing_pipeline(), [SENTINEL, GOOD[2]], [None, None], batch_size=10)
    assert SENTINEL not in str(caught.value)

    source = tmp_path / "posts.csv"
    source.write_text(f'text\n"{SENTINEL}\n')  # a quote that never closes
    [part] = plan(source, 10)

    def quoting_failure() -> None:
        raise KeyError(f"nothing for {SENTINEL}")

    with pytest.raises(PartError) as caught:
        guarded(part, quoting_failure)
    assert str(caught.value).endswith("could not be scored: KeyError") and caught.value.__context__ is None
    with pytest.raises(PartError, match=r"posts.csv, rows 1-1 could not be scored: DataError.*CSV") as caught:
        score_part(failing_pipeline(), part, tmp_path, "text", 10)
    assert SENTINEL not in str(caught.value)


def test_parts_whose_column_types_differ_are_aligned_so_the_folder_reads_as_one_table(tmp_path: Path) -> None:
    rows = [
        {"id": 1, "score": 2, "text": "exams are close", "note": None},
        {"id": 2, "score": 3, "text": "work is ok"},
        {"id": "c-3", "score": 0.5, "text": "had a calm walk today", "source": "forum"},
        {"id": "c-4", "score": 1, "text": "work is ok", "note": 5, "source": {"site": "x"}},
    ]
    source = tmp_path / "posts.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    parts = plan(source, 2)
    out = tmp_path / "out"
    out.mkdir()
    for part in parts:
        score_part(failing_pipeline(), part, out, "text", batch_size=10)
    with pytest.raises(pa.ArrowInvalid):
        pd.read_parquet(out)  # id is int64 in the first part, string in the second

    changes = align_parts(out, parts)

    frame = pd.read_parquet(out)
    assert list(frame.columns) == [
        *["id", "score", "text", "note", "source", "labels", "risk", "stage", "needs_review"],
        *["review_reasons", "prob_neutral", "prob_stress", "error"],
    ]
    assert frame["id"].tolist() == ["1", "2", "c-3", "c-4"]  # int and string: each value's JSON text
    assert frame["score"].tolist() == [2.0, 3.0, 0.5, 1.0]  # int and float: float
    assert frame["note"].isna().tolist() == [True, True, True, False] and frame["note"].iloc[3] == 5
    assert frame["source"].isna().tolist() == [True, True, False, False]  # missing from the first part
    assert frame["source"].tolist()[2:] == ["forum", '{"site": "x"}']
    assert frame["labels"].map(list).tolist() == [["neutral"]] * 4
    assert sorted(changes) == ["id", "note", "score", "source"]
    assert changes["id"] == "int64, string -> string" and changes["source"] == "missing from 1 parts"
    assert align_parts(out, parts) == {}  # aligned parts are left as they are


def test_a_restarted_job_reuses_its_plan_skips_finished_parts_and_refuses_changed_inputs(
    trained_run: Path, tmp_path: Path
) -> None:
    source = tmp_path / "posts.parquet"
    pq.write_table(pa.table({"text": [f"post {i}" for i in range(25)]}), source)
    key = JobKey(str(trained_run), model_identity(trained_run), "text", 10, tuple(find_inputs(source)))
    out = tmp_path / "out"
    parts = open_job(out, key)
    assert len(parts) == 3 and pending(out, parts) == parts
    part_path(out, parts[1]).write_bytes(b"done")
    (out / f"{TEMP_PREFIX}left-by-a-killed-run").write_bytes(b"")
    again = open_job(out, key)
    assert again == parts and pending(out, again) == [parts[0], parts[2]]
    assert not list(out.glob(f"{TEMP_PREFIX}*"))

    os.utime(source, ns=(1, 1))
    changed = JobKey(str(trained_run), key.model_identity, "text", 10, tuple(find_inputs(source)))
    with pytest.raises(ValueError, match="other inputs.*new --output"):
        open_job(out, changed)
    with pytest.raises(ValueError, match="other part_rows"):
        open_job(out, JobKey(key.model, key.model_identity, "text", 5, key.inputs))


def test_ray_options_without_the_ray_engine_are_refused(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("text\nhello\n")
    argv = ["predict", str(trained_run), "--input", str(source), "--output", str(tmp_path / "o.csv")]
    assert main([*argv, "--workers", "2"]) == 2
    assert "--workers apply to --engine ray" in capsys.readouterr().err
    assert main(["predict", str(trained_run), "one text", "--engine", "ray"]) == 2
    assert "takes no inline text" in capsys.readouterr().err
