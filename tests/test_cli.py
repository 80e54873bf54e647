import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mindscreen.cli import build_parser, main
from mindscreen.data import resolve_data_dir


def test_config_prints_the_resolved_quickstart(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "train.lr=2e-5"]) == 0
    resolved = yaml.safe_load(capsys.readouterr().out)
    assert resolved["train"]["lr"] == 2e-5 and resolved["data"]["dir"] == "demo"


def test_config_error_names_the_dotted_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "model.poolin=cls"]) == 2
    assert "model.poolin" in capsys.readouterr().err


def test_train_end_to_end_prints_metrics_and_the_run_directory(
    tmp_path: Path, tiny_bert_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "output_dir": str(tmp_path / "run"),
                "data": {"dir": "demo"},
                "model": {"encoder": str(tiny_bert_dir), "max_length": 32},
                "train": {"epochs": 1, "batch_size": 64, "lr": 3e-3},
            }
        )
    )
    assert main(["-q", "train", "-c", str(config), "train.seed=3"]) == 0
    out = capsys.readouterr().out
    assert "macro" in out and f"run saved to {tmp_path / 'run'}" in out
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["train"]["seed"] == 3


def test_evaluate_prints_metrics_and_writes_json_into_a_new_folder(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "not" / "yet" / "metrics.json"  # folders are created, as predict does
    test_file = resolve_data_dir("demo") / "test.jsonl"
    assert (
        main(["-q", "evaluate", str(trained_run), "--data", str(test_file), "--output", str(out_file)]) == 0
    )
    metrics = json.loads(out_file.read_text())
    assert metrics["num_examples"] == len(test_file.read_text().splitlines())
    assert "macro" in capsys.readouterr().out


def test_predict_one_text_prints_labels_and_probabilities(
    trained_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mindscreen.predictors import load_predictor

    text = "exams next week and i cannot sleep"
    assert main(["-q", "predict", str(trained_run), text]) == 0
    result = json.loads(capsys.readouterr().out)
    predictor = load_predictor(trained_run)
    assert result["labels"] == predictor.predict([text])[0]
    expected = dict(zip(predictor.labels, predictor.predict_proba([text])[0].tolist(), strict=True))
    assert result["probabilities"] == pytest.approx(expected, abs=1e-5)
    assert result["stage"] == "model" and result["risk"] in {"none", "low", "moderate", "high", "crisis"}


def test_predict_file_keeps_input_columns_and_adds_labels_and_probabilities(
    trained_run: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": [1, 2], "text": ["a calm day", "i feel hopeless"]}).to_csv(source, index=False)
    target = tmp_path / "out.csv"
    assert main(["-q", "predict", str(trained_run), "--input", str(source), "--output", str(target)]) == 0
    result = pd.read_csv(target)
    assert list(result["id"]) == [1, 2]
    assert {"labels", "risk", "stage", "needs_review", "review_reasons"} <= set(result.columns)
    assert any(c.startswith("prob_") for c in result.columns)


def test_predict_file_works_through_chunks_with_a_progress_bar_and_equals_one_call(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mindscreen.predictors import load_predictor

    monkeypatch.setattr("mindscreen.predictors.protocol.CHUNK", 7)
    texts = [f"exam number {i} keeps me awake" for i in range(20)]
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    pd.DataFrame({"text": texts}).to_json(source, orient="records", lines=True)
    assert main(["predict", str(trained_run), "--input", str(source), "--output", str(target)]) == 0
    err = capsys.readouterr().err
    assert "predict: 100%" in err and "20/20" in err and "exam number" not in err
    result = pd.read_json(target, lines=True)
    expected = load_predictor(trained_run).predict_proba(texts)
    columns = [c for c in result.columns if c.startswith("prob_")]
    np.testing.assert_allclose(result[columns].to_numpy(), expected, atol=1e-5)


def test_predict_and_evaluate_cut_overlong_texts_and_say_how_many(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mindscreen.data import MAX_CHARS

    long_text = "i keep going over the same worries " * 2000  # 70 000 characters
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"text": ["a calm day", long_text]}).to_csv(source, index=False)
    labelled = tmp_path / "labelled.jsonl"
    pd.DataFrame({"text": ["a calm day", long_text], "labels": [["neutral"], ["anxiety"]]}).to_json(
        labelled, orient="records", lines=True
    )

    assert main(["-q", "predict", str(trained_run), "--input", str(source), "--output", str(target)]) == 0
    assert main(["-q", "evaluate", str(trained_run), "--data", str(labelled), "--max-chars", "5"]) == 0

    # -q keeps warnings: the mindscreen logger writes them to stderr.
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("WARNING")]
    assert any("1 of 2 texts are longer than 5000 characters" in w and "row 2 " in w for w in warnings)
    assert any("2 of 2 texts are longer than 5 characters" in w for w in warnings)
    assert len(pd.read_csv(target)) == 2 and "worries" not in err
    assert build_parser().parse_args(["predict", "RUN", "x"]).max_chars == MAX_CHARS


def test_predict_needs_exactly_one_of_text_or_input(
    trained_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", str(trained_run)]) == 2
    assert "either one text or --input" in capsys.readouterr().err


def test_explain_one_text_marks_its_top_words_and_tabulates_their_scores(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "exams next week and i cannot sleep"
    page = tmp_path / "one.html"
    assert main(["-q", "explain", str(trained_run), text, "--label", "stress", "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "stress: probability" in out and "explained by occlusion" in out and "characters" in out
    assert ("[" in out or "{" in out) and "\033[" not in out  # brackets, not colours, off a terminal
    assert "exams" in page.read_text()
    assert main(["explain", str(trained_run), text, "--method", "shap"]) == 2
    assert "occlusion, integrated_gradients" in capsys.readouterr().err


def test_explain_file_writes_jsonl_of_offsets_and_an_html_page(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "posts.csv"
    pd.DataFrame({"id": [1, 2], "text": ["a calm walk", "i want to kill myself"]}).to_csv(source, index=False)
    out, page = tmp_path / "why.jsonl", tmp_path / "why.html"
    args = [
        "-q",
        "explain",
        str(trained_run),
        "--input",
        str(source),
        "--output",
        str(out),
        "--html",
        str(page),
    ]
    assert main([*args, "--method", "integrated_gradients"]) == 0
    assert f"wrote 2 explanations to {out}" in capsys.readouterr().out
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["row"] for line in lines] == [0, 1] and lines[1]["risk"] == "crisis"
    assert {e["method"] for line in lines for e in line["explanations"]} == {"integrated_gradients"}
    assert "kill" in page.read_text() and "kill" not in out.read_text()
    assert main(["explain", str(trained_run), "--input", str(source)]) == 2
    assert "--input needs --output" in capsys.readouterr().err


def test_explain_cuts_long_texts_to_max_chars_as_predict_does(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "posts.csv"
    long = "exams next week and i cannot sleep " * 4  # 140 characters
    pd.DataFrame({"text": ["a calm walk", long]}).to_csv(source, index=False)
    out = tmp_path / "why.jsonl"
    args = ["-q", "explain", str(trained_run), "--input", str(source), "--output", str(out)]
    assert main(args) == 0
    assert "longer than" not in capsys.readouterr().err  # the default limit cuts nothing here
    assert main([*args, "--max-chars", "40"]) == 0
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert max(w["end"] for e in lines[1]["explanations"] for w in e["words"]) <= 40
    assert "1 of 2 texts are longer than 40 characters" in err and "row 2" in err and "exams" not in err


def test_evaluate_on_a_folder_that_is_not_a_run_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", str(tmp_path), "--data", "x.csv"]) == 2
    err = capsys.readouterr().err
    assert "holds no model mindscreen can load" in err and "ensemble.json" in err and "export.json" in err


def test_every_subcommand_has_a_handler_and_every_handler_a_subcommand() -> None:
    from mindscreen.cli import COMMANDS, build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert set(subparsers.choices) == set(COMMANDS)


def test_report_writes_html_and_prints_the_checklist(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "report.html"
    code = main(["-q", "report", str(trained_run), "--output", str(page), "--min-weighted-f1", "0"])
    assert code in (0, 1)  # 1: a criterion failed, which a tiny model may well do
    assert page.read_text().startswith("<!DOCTYPE html>") or "<html" in page.read_text()
    assert "report written to" in capsys.readouterr().out


def test_a_config_error_in_train_is_reported_before_torch_is_imported() -> None:
    code = (
        "import sys\n"
        "from mindscreen.cli import main\n"
        "code = main(['train', 'model.poolin=cls'])\n"
        "print(code, 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["2", "False"] and "model.poolin" in done.stderr


def test_cli_prints_mindscreen_info_lines_but_no_third_party_info(cli_export: tuple[Path, str]) -> None:
    stderr = cli_export[1]  # `mindscreen export RUN --int8` in its own process
    assert "INFO mindscreen.export.check: checking the export against the run" in stderr
    # ONNX Runtime logs one INFO line per quantised tensor on the root logger
    assert "Quantization parameters" not in stderr and "INFO root" not in stderr


def test_main_leaves_the_root_logger_and_log_propagation_as_they_were(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, ours = logging.getLogger(), logging.getLogger("mindscreen")
    before = (root.level, list(root.handlers), ours.level, ours.propagate, list(ours.handlers))
    assert main(["config"]) == 0
    assert (root.level, list(root.handlers), ours.level, ours.propagate, list(ours.handlers)) == before


def test_evaluate_and_predict_suggest_the_text_column_with_their_own_flag(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "posts.csv"
    pd.DataFrame(
        {
            "post_id": ["t3_a81kq9", "t3_b72mz1"],
            "post_body": ["a calm day at home", "exams soon"],
            "labels": ["neutral", "stress"],
        }
    ).to_csv(source, index=False)

    assert main(["-q", "evaluate", str(trained_run), "--data", str(source)]) == 2
    err = capsys.readouterr().err
    assert "Pass --text-column post_body" in err and "data.text_column" not in err
    assert (
        main(["-q", "predict", str(trained_run), "--input", str(source), "--output", str(tmp_path / "o.csv")])
        == 2
    )
    err = capsys.readouterr().err
    assert "Pass --text-column post_body" in err and "text_column=" not in err
    assert "calm day" not in err  # never a value of the file

    renamed = tmp_path / "tagged.csv"
    pd.read_csv(source).rename(columns={"labels": "tag"}).to_csv(renamed, index=False)
    assert (
        main(["-q", "evaluate", str(trained_run), "--data", str(renamed), "--text-column", "post_body"]) == 2
    )
    assert "Pass --label-column" in capsys.readouterr().err
