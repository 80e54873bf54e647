"""The ``mindscreen`` command: a thin layer over the library, one public call per subcommand."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from mindscreen import __version__

if TYPE_CHECKING:
    from mindscreen.predictors import LoadOptions

# mindscreen.data.MAX_CHARS, spelled out so that building the parser imports no pandas (a test checks).
MAX_CHARS = 5000
MAX_CHARS_HELP = f"Characters of each text read (default {MAX_CHARS}); longer ones are cut, with a warning."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mindscreen",
        description="Train, evaluate and apply transformer classifiers for mental-health text. "
        "Not a diagnostic tool.",
    )
    parser.add_argument("--version", action="version", version=f"mindscreen {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="Only warnings and results.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="Fine-tune a classifier and write its run directory.")
    _config_args(train)
    train.add_argument("--resume", action="store_true", help="Continue an interrupted run.")
    train.add_argument("--overwrite", action="store_true", help="Replace an existing run directory.")

    config = sub.add_parser("config", help="Print the resolved config (defaults filled in).")
    _config_args(config)

    evaluate = sub.add_parser("evaluate", help="Score a run on a labelled file.")
    evaluate.add_argument("run", help="Run directory written by train.")
    evaluate.add_argument("--data", required=True, help="Labelled CSV, TSV, JSONL or Parquet file.")
    evaluate.add_argument("--text-column", help="Text column (default: the one the run was trained with).")
    evaluate.add_argument("--label-column", help="Label column (default: the run's).")
    evaluate.add_argument("--output", help="Also write the metrics as JSON here (folders are created).")
    evaluate.add_argument("--max-chars", type=int, default=MAX_CHARS, help=MAX_CHARS_HELP)
    _int8_arg(evaluate)

    predict = sub.add_parser("predict", help="Label texts: one given inline, a file, or a corpus on Ray.")
    predict.add_argument(
        "run", metavar="RUN_OR_PIPELINE", help="Run, ensemble, export or pipeline directory."
    )
    predict.add_argument("text", nargs="?", help="A text to classify (or use --input).")
    predict.add_argument(
        "--input", help="CSV, TSV, JSONL or Parquet file; with --engine ray also a folder or a glob."
    )
    predict.add_argument(
        "--output", help="File for the input plus labels and probabilities; with --engine ray a folder."
    )
    predict.add_argument("--text-column", help="Text column of --input (default: the run's).")
    predict.add_argument("--max-chars", type=int, default=MAX_CHARS, help=MAX_CHARS_HELP)
    _int8_arg(predict)
    _corpus_args(predict)

    explain = sub.add_parser(
        "explain", help="Show which words moved each decision: one text, or a file to JSONL (and HTML)."
    )
    explain.add_argument(
        "path", metavar="RUN_OR_PIPELINE", help="Pipeline, run, ensemble or export directory."
    )
    explain.add_argument("text", nargs="?", help="A text to explain (or use --input).")
    explain.add_argument("--input", help="CSV, TSV, JSONL or Parquet file of texts.")
    explain.add_argument(
        "--output", help="JSONL file of offsets and scores, one line per text (with --input)."
    )
    explain.add_argument("--html", metavar="FILE", help="Also write one page with the texts highlighted.")
    explain.add_argument("--text-column", help="Text column of --input (default: the model's).")
    explain.add_argument(
        "--label", action="append", help="A label to explain (repeat for more; default: the predicted ones)."
    )
    explain.add_argument("--method", help="occlusion (default; every model kind) or integrated_gradients.")
    explain.add_argument("--steps", type=int, default=20, help="Integrated Gradients steps (default 20).")
    explain.add_argument(
        "--top", type=int, default=5, help="Words marked each way in the terminal (default 5)."
    )
    explain.add_argument("--max-chars", type=int, default=MAX_CHARS, help=MAX_CHARS_HELP)
    _int8_arg(explain)

    ensemble = sub.add_parser(
        "ensemble", help="Combine runs (and a TF-IDF model) with weights fitted on dev."
    )
    ensemble.add_argument(
        "-c", "--config", required=True, help="Ensemble spec (YAML); see docs/ensembles.md."
    )
    ensemble.add_argument(
        "overrides", nargs="*", metavar="key=value", help="e.g. combine.method=stacking members.0.name=mean"
    )

    report = sub.add_parser("report", help="Write a run's HTML report and check it against success criteria.")
    report.add_argument("run", help="Run directory written by train.")
    report.add_argument("--output", help="HTML file to write (default: RUN/report.html).")
    report.add_argument("--criteria", help="YAML file of criteria (keys of mindscreen.report.Criteria).")
    report.add_argument("--split", choices=["test", "dev"], help="Split whose F1 is checked (default: test).")
    report.add_argument("--min-weighted-f1", type=float, help="Weighted F1 must exceed this (default 0.85).")
    report.add_argument("--min-class-f1", type=float, help="Every class F1 must exceed this (default 0.70).")
    report.add_argument(
        "--max-train-val-gap", type=float, help="Train-val gap must be below this (default 0.05)."
    )
    report.add_argument(
        "--examples",
        type=int,
        default=1,
        help="Highlighted dev texts per class and kind (correct, missed, false alarm); 0: none (default 1).",
    )

    tune = sub.add_parser("tune", help="Search hyperparameters with Optuna; write best.yaml and trials.csv.")
    _config_args(tune)
    tune.add_argument("--space", required=True, help="Search-space YAML keyed by dotted config paths.")
    tune.add_argument(
        "--storage",
        help="Default in memory; study.db or study.log to resume on this machine; "
        "postgresql+psycopg://user@host/db to share one study between machines.",
    )
    tune.add_argument("--study", help="Study name to create or join (default: the config's name).")
    tune.add_argument("--n-trials", type=int, help="Trials in the whole study (overrides the space file).")
    tune.add_argument("--timeout", type=float, help="Seconds this process keeps starting trials.")
    tune.add_argument("--pruner", choices=["median", "hyperband", "none"], help="Overrides the space file.")
    tune.add_argument(
        "--output",
        help="Study folder (default: <output_dir>-tune, or <output_dir>-tune-<study> for --study).",
    )
    tune.add_argument(
        "--overwrite", action="store_true", help="Replace the outputs of another study in the folder."
    )

    pipeline = sub.add_parser("pipeline", help="Fit a multistage triage pipeline from a YAML spec.")
    pipeline.add_argument("spec", help="Pipeline spec (see examples/pipeline.yaml).")
    pipeline.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. recall_floor=0.9")
    pipeline.add_argument("--overwrite", action="store_true", help="Replace an existing pipeline directory.")

    serve = sub.add_parser("serve", help="Serve a pipeline, run, ensemble or ONNX export over HTTP.")
    serve.add_argument("path", metavar="RUN_OR_PIPELINE", help="Pipeline, run, ensemble or export directory.")
    serve.add_argument("--host", default="127.0.0.1", help="Interface to bind (default: this machine only).")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--api-key-env", metavar="NAME", help="Require the API key held in env variable NAME.")
    serve.add_argument("--max-texts", type=int, default=64, help="Texts per request (more: 413).")
    serve.add_argument("--max-chars", type=int, default=5000, help="Characters per text (more: 413).")
    serve.add_argument(
        "--max-explain-texts", type=int, default=8, help="Texts per /v1/explain request (more: 413)."
    )
    serve.add_argument("--timeout", type=float, default=10.0, help="Seconds per request (longer: 504).")
    serve.add_argument(
        "--max-concurrency", type=int, default=4, help="Requests at once; more wait up to 1 s, then 429."
    )
    serve.add_argument(
        "--batch-window-ms",
        type=float,
        default=None,
        help="Micro-batching: concurrent requests share one model call, collected for this long "
        "(0: those already waiting); raise --max-concurrency with it. Default: off.",
    )
    serve.add_argument("--audit-log", metavar="FILE", help="Append hashed-id audit lines (JSONL) here.")
    serve.add_argument("--audit-salt-env", metavar="NAME", help="Audit id HMAC key, from env NAME.")
    _int8_arg(serve)
    serve.add_argument(
        "--metrics",
        choices=["key", "public", "off"],
        default="key",
        help="Who may read /metrics: 'key' needs the API key when one is set (default), 'public' anyone, "
        "'off' nobody (404).",
    )
    serve.add_argument(
        "--header-timeout", type=float, default=10.0, help="Seconds a client may take to send its headers."
    )
    serve.add_argument(
        "--max-connections", type=int, default=1024, help="Open connections; past it idle ones are closed."
    )

    audit = sub.add_parser(
        "audit", help="Check a data set before training: duplicates, leakage, label errors, balance, lengths."
    )
    audit.add_argument("data", metavar="DATA", help="Folder with train/dev/test files, one file, or demo.")
    audit.add_argument(
        "overrides", nargs="*", metavar="key=value", help="data.* settings, e.g. data.task=multi_label"
    )
    audit.add_argument("--text-column", help="Column holding the text (default: text).")
    audit.add_argument("--label-column", help="Column holding the label(s) (default: labels, else label).")
    audit.add_argument("--label-delimiter", help="Multi-label as a delimited string, e.g. '|'.")
    audit.add_argument("--label-columns", type=_names, help="Multi-label as 0/1 columns: a,b,c.")
    audit.add_argument(
        "--max-length", type=_counts, default=(128,), help="Token count(s) for the cut share: 128 or 128,256."
    )
    audit.add_argument("--encoder", default="minilm", help="Tokenizer for token lengths (default: minilm).")
    audit.add_argument("--near-threshold", type=float, default=0.8, help="Jaccard of char 5-grams (0.8).")
    audit.add_argument("--output", help="Folder for audit.json and audit.html (default: <DATA>-audit).")
    audit.add_argument("--strict", action="store_true", help="Exit 1 on leakage or conflicting duplicates.")

    export = sub.add_parser(
        "export", help="Export a run to ONNX (fp32, optionally int8, checked) or to a transformers folder."
    )
    export.add_argument("run", help="Run directory written by train.")
    export.add_argument(
        "--format",
        choices=["onnx", "transformers"],
        default="onnx",
        help="onnx (default) for mindscreen serve; transformers: a folder AutoModelForSequenceClassification "
        "and pipeline() load with trust_remote_code=True.",
    )
    export.add_argument("--output", help="Export directory (default: <run>-onnx or <run>-transformers).")
    export.add_argument("--int8", action="store_true", help="Also write a dynamically quantised int8 model.")
    export.add_argument("--overwrite", action="store_true", help="Replace an existing export directory.")

    review = sub.add_parser("review", help="Label Studio round trip: review tasks out, decisions back in.")
    steps = review.add_subparsers(dest="step", required=True)
    tasks = steps.add_parser("export", help="Write Label Studio tasks for the texts that need review.")
    tasks.add_argument("path", metavar="PIPELINE", help="Pipeline (or run, ensemble, export) directory.")
    tasks.add_argument("--input", required=True, help="CSV, TSV, JSONL or Parquet file of texts.")
    tasks.add_argument("--output", required=True, help="Tasks JSON to import into Label Studio.")
    tasks.add_argument("--text-column", default="text", help="Text column of --input (default: text).")
    tasks.add_argument(
        "--uncertain", type=int, default=20, help="Most uncertain other texts to add (default 20; 0: none)."
    )
    tasks.add_argument(
        "--highlights",
        type=int,
        default=3,
        help="Top words per predicted label pre-annotated as evidence spans (default 3; 0: none).",
    )
    back = steps.add_parser("import", help="Turn a Label Studio JSON export into a training file.")
    back.add_argument("export", help="The project's JSON export from Label Studio.")
    back.add_argument("--output", required=True, help="JSONL training file to write.")

    card = sub.add_parser("card", help="Write (or rewrite) the model card README.md of a model directory.")
    card.add_argument("path", metavar="RUN_OR_PIPELINE", help="Run, ensemble or pipeline directory.")
    return parser


# The flags evaluate and predict take: what their "column not found" messages tell users to pass.
CLI_HINTS = {"text_column": "--text-column", "label_column": "--label-column"}


def _corpus_args(parser: argparse.ArgumentParser) -> None:
    ray = parser.add_argument_group("corpus scoring on Ray (--engine ray; needs mindscreen[ray])")
    ray.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local (default): this process, one file; ray: Parquet parts in --output, restartable.",
    )
    ray.add_argument(
        "--address", help="Ray cluster to join: 'auto' or HOST:PORT (default: a local Ray for this job)."
    )
    ray.add_argument("--workers", type=int, help="Actors, each with the model loaded (default: one per CPU).")
    ray.add_argument("--batch-size", type=int, help="Texts per model call in a worker (default 1024).")
    ray.add_argument("--gpus-per-worker", type=float, help="GPUs per actor, e.g. 1 or 0.5 (default 0).")
    ray.add_argument("--cpus-per-worker", type=float, help="CPUs (and threads) per actor (default 1).")
    ray.add_argument(
        "--part-rows", type=int, help="Rows per output part (default 10000; keep it when restarting)."
    )


_RAY_ONLY = ("address", "workers", "batch_size", "gpus_per_worker", "cpus_per_worker", "part_rows")


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        help="YAML config (default: the shipped quickstart for the demo data, the library defaults "
        "for your own data).",
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="e.g. train.lr=3e-5 model.pooling=cls"
    )


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def _counts(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in _names(value))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected token counts like 128 or 128,256, got {value!r}"
        ) from None


def _int8_arg(parser: argparse.ArgumentParser) -> None:
    """How the model loads: ``--allow-failed-int8`` and ``--runtime`` for ONNX exports, ``--precision``."""
    parser.add_argument(
        "--allow-failed-int8",
        action="store_true",
        help="For an ONNX export: run its int8 model even if its recorded check against torch failed "
        "or never ran (default: fp32 then, with a warning).",
    )
    parser.add_argument(
        "--precision",
        choices=["fp32", "bf16"],
        default="fp32",
        help="bf16: bfloat16 matrix products, for CPUs with native bfloat16 (AVX512-BF16, AMX). A run or "
        "ensemble runs under bfloat16 autocast (2.1-3.0x the HF pipeline's throughput); an ONNX export "
        "needs --runtime openvino for it. Default fp32.",
    )
    parser.add_argument(
        "--runtime",
        choices=["onnxruntime", "openvino"],
        default="onnxruntime",
        help="For an ONNX export: what runs it. openvino (pip install 'mindscreen[openvino]') also runs "
        "it at --precision bf16, the fastest CPU path measured (BENCHMARKS.md). Default onnxruntime.",
    )


def _load_options(args: argparse.Namespace) -> LoadOptions:
    from mindscreen.predictors import LoadOptions

    return LoadOptions(
        allow_failed_int8=args.allow_failed_int8, precision=args.precision, runtime=args.runtime
    )


@contextmanager
def _logging(quiet: bool) -> Iterator[None]:
    """mindscreen's own log lines on stderr, for the duration of a command.

    Only the ``mindscreen`` logger is configured (its own handler, not propagated): the root logger is
    left alone, so third-party INFO lines (ONNX Runtime logs one per quantised tensor) stay hidden while
    their warnings still reach stderr. The previous state is restored afterwards.
    """
    logger = logging.getLogger("mindscreen")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    saved = (logger.level, logger.propagate)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from mindscreen.config import ConfigError
    from mindscreen.extras import MissingExtraError

    errors = (ConfigError, MissingExtraError, ValueError, FileNotFoundError, FileExistsError, OSError)
    with _logging(args.quiet):
        try:
            return COMMANDS[args.command](args)
        except errors as err:
            print(f"mindscreen {args.command}: error: {err}", file=sys.stderr)
            return 2


def _train(args: argparse.Namespace) -> int:
    from mindscreen.config import load_config

    config = load_config(args.config, args.overrides)  # a config error answers before torch is imported
    from mindscreen.metrics import format_metrics
    from mindscreen.training import train

    result = train(config, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
    if not result.metrics:  # a rank other than 0 under torchrun: rank 0 reports
        return 0
    labels = result.metrics["dev"]["per_class"].keys()
    for split in ("dev", "test"):
        if split in result.metrics:
            print(
                f"\n{split} (thresholds fitted on dev)\n{format_metrics(result.metrics[split], list(labels))}"
            )
    print(f"\nrun saved to {result.run_dir}")
    return 0


def _config(args: argparse.Namespace) -> int:
    from mindscreen.defaults import describe_config

    print(describe_config(args.config, args.overrides), end="")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from mindscreen.evaluation import evaluate_run
    from mindscreen.metrics import format_metrics

    metrics = evaluate_run(
        args.run,
        args.data,
        progress=not args.quiet,
        max_chars=args.max_chars,
        options=_load_options(args),
        hints=CLI_HINTS,
        text_column=args.text_column,
        label_column=args.label_column,
    )
    print(format_metrics(metrics, list(metrics["per_class"])))
    if args.output:
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(metrics, indent=2) + "\n")
    return 0


def _predict(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.input is None):
        raise ValueError("give either one text or --input FILE (with --output FILE)")
    if args.input is not None and args.output is None:
        raise ValueError("--input needs --output FILE (.csv, .tsv, .jsonl or .parquet)")
    if args.engine == "ray":
        return _predict_corpus(args)
    given = [f"--{name.replace('_', '-')}" for name in _RAY_ONLY if getattr(args, name) is not None]
    if given:
        raise ValueError(f"{', '.join(given)} apply to --engine ray; add --engine ray or leave them out")
    from mindscreen.pipeline import load_pipeline, predict_table

    options = _load_options(args)
    # Through the pipeline for every directory: the same answer `mindscreen serve` gives.
    if args.input is None:
        from mindscreen.data import cut_texts, warn_cut

        texts, cut = cut_texts([args.text], args.max_chars)
        warn_cut("the text", cut, 1, args.max_chars)
        print(json.dumps(load_pipeline(args.run, options).classify(texts)[0].to_dict(), indent=2))
        return 0
    rows = predict_table(
        args.run,
        args.input,
        args.output,
        args.text_column,
        not args.quiet,
        max_chars=args.max_chars,
        hints=CLI_HINTS,
        options=options,
    )
    print(f"wrote {rows} predictions to {args.output}")
    return 0


def _predict_corpus(args: argparse.Namespace) -> int:
    if args.input is None:
        raise ValueError(
            "--engine ray scores --input PATH_OR_GLOB into --output DIR; it takes no inline text"
        )
    from mindscreen.corpus import PART_ROWS, ClusterSettings, CorpusError, predict_corpus
    from mindscreen.predictors import CHUNK

    cluster = ClusterSettings(
        address=args.address,
        workers=args.workers,
        cpus_per_worker=args.cpus_per_worker or 1.0,
        gpus_per_worker=args.gpus_per_worker or 0.0,
    )
    try:
        result = predict_corpus(
            args.run,
            args.input,
            args.output,
            text_column=args.text_column,
            batch_size=args.batch_size or CHUNK,
            part_rows=args.part_rows or PART_ROWS,
            cluster=cluster,
            options=_load_options(args),
            max_chars=args.max_chars,
            progress=not args.quiet,
        )
    except CorpusError as err:
        print(f"mindscreen predict: error: {err}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0


def _explain(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.input is None):
        raise ValueError("give either one text or --input FILE (with --output FILE.jsonl)")
    if args.input is not None and args.output is None:
        raise ValueError("--input needs --output FILE.jsonl")
    from mindscreen.data import cut_texts, warn_cut
    from mindscreen.explain import explain
    from mindscreen.explain.batch import explain_table
    from mindscreen.explain.page import write_page
    from mindscreen.explain.pipeline import as_pipeline
    from mindscreen.explain.render import render_explanation

    options = _load_options(args)
    if args.input is None:  # the user's own text, shown back to them on their terminal only
        texts, cut = cut_texts([args.text], args.max_chars)
        warn_cut("the text", cut, 1, args.max_chars)
        pipeline = as_pipeline(args.path, options)
        (found,) = explain(pipeline, texts, args.label, args.method, args.steps)
        print(render_explanation(texts[0], found, args.top, color=sys.stdout.isatty()))
        if args.html:
            write_page(args.html, texts, [found])
        return 0
    count = explain_table(
        args.path,
        args.input,
        args.output,
        args.html,
        args.text_column,
        args.label,
        args.method,
        args.steps,
        progress=not args.quiet,
        max_chars=args.max_chars,
        options=options,
    )
    print(f"wrote {count} explanations to {args.output}" + (f" and {args.html}" if args.html else ""))
    return 0


def _report(args: argparse.Namespace) -> int:
    from mindscreen.extras import require_extras

    require_extras("mindscreen report", "matplotlib")
    from mindscreen.report import build_report, load_criteria

    criteria = load_criteria(
        args.criteria,
        split=args.split,
        min_weighted_f1=args.min_weighted_f1,
        min_class_f1=args.min_class_f1,
        max_train_val_gap=args.max_train_val_gap,
    )
    checklist = build_report(args.run, args.output, criteria, args.examples)
    print(checklist.format())
    print(f"report written to {args.output or Path(args.run) / 'report.html'}")
    return 0 if checklist.passed else 1


def _tune(args: argparse.Namespace) -> int:
    from mindscreen.extras import require_extras

    require_extras("mindscreen tune", "optuna")
    from mindscreen.tuning import tune

    result = tune(
        args.config,
        args.space,
        args.overrides,
        storage=args.storage,
        study_name=args.study,
        n_trials=args.n_trials,
        timeout=args.timeout,
        pruner=args.pruner,
        output_dir=args.output,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    print(result.summary())
    return 0 if result.best_config is not None else 1


def _ensemble(args: argparse.Namespace) -> int:
    from mindscreen.ensemble import build_ensemble, format_summary

    result = build_ensemble(args.config, args.overrides, progress=not args.quiet)
    print(format_summary(result.metrics))
    print(f"\nensemble saved to {result.output_dir}")
    return 0


def _pipeline(args: argparse.Namespace) -> int:
    from mindscreen.pipeline import fit_pipeline

    folder = fit_pipeline(args.spec, args.overrides, overwrite=args.overwrite)
    report = json.loads((folder / "report.json").read_text())
    for split in ("dev", "test"):
        for name, row in report.get(split, {}).items():
            recalls = row["critical_recall"].items()
            recall = ", ".join(f"{k} {'-' if v is None else f'{v:.3f}'}" for k, v in recalls)
            print(
                f"{split:4} {name:20} macro-F1 {row['macro_f1']:.3f}  critical recall: {recall or '-'}  "
                f"stage-1 share {row['screen_share']:.2f}  review share {row['review_share']:.2f}"
            )
    print(f"\npipeline saved to {folder} (cutoff {report['cutoff']}, floor {report['recall_floor']})")
    return 0


def _secret(name: str | None) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise ValueError(f"environment variable {name} is not set or empty; export it before serving")
    return value


def _serve(args: argparse.Namespace) -> int:
    from mindscreen.extras import require_extras

    require_extras("mindscreen serve", "fastapi", "uvicorn", "prometheus_client")
    from mindscreen.serving import serve

    serve(
        args.path,
        host=args.host,
        port=args.port,
        api_key=_secret(args.api_key_env),
        max_texts=args.max_texts,
        max_chars=args.max_chars,
        max_explain_texts=args.max_explain_texts,
        timeout_s=args.timeout,
        max_concurrency=args.max_concurrency,
        batch_window_ms=args.batch_window_ms,
        audit_log=args.audit_log,
        audit_salt=_secret(args.audit_salt_env),
        metrics=args.metrics,
        header_timeout_s=args.header_timeout,
        max_connections=args.max_connections,
        allow_failed_int8=args.allow_failed_int8,
        precision=args.precision,
        runtime=args.runtime,
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    if args.format == "transformers":
        if args.int8:
            raise ValueError("--int8 applies to --format onnx only; drop it for --format transformers")
        from mindscreen.export.hf import export_transformers

        print(f"exported to {export_transformers(args.run, args.output, overwrite=args.overwrite)}")
        return 0
    from mindscreen.extras import require_extras

    require_extras("mindscreen export", "onnx", "onnxruntime", "onnxscript")
    from mindscreen.export import export_run

    folder, check = export_run(args.run, args.output, int8=args.int8, overwrite=args.overwrite)
    print(f"exported to {folder}")
    if check is None:
        print("not checked: the run's data is not readable here; use mindscreen.export.check_export")
        return 0
    notes = {"openvino_bf16": " (--runtime openvino --precision bf16; not part of the verdict)"}
    for variant in ("fp32", "int8", "openvino_bf16"):
        if variant in check:
            row = check[variant]
            verdict = "ok" if row["passed"] else "FAILED"
            print(
                f"{variant}: max |prob torch - prob onnx| {row['max_abs_diff']:.2e} "
                f"(tolerance {row['tolerance']}) {verdict}; labels differ on "
                f"{row['label_mismatch_share']:.1%} of {check['num_texts']} dev texts{notes.get(variant, '')}"
            )
    return 0 if check["passed"] else 1


def _review(args: argparse.Namespace) -> int:
    from mindscreen.review import export_review_tasks, import_review

    if args.step == "export":
        done = export_review_tasks(
            args.path,
            args.input,
            args.output,
            text_column=args.text_column,
            uncertain=args.uncertain,
            highlights=args.highlights,
        )
        counts = ", ".join(f"{name} {count}" for name, count in done.counts.items())
        print(f"wrote {sum(done.counts.values())} tasks ({counts}) to {done.tasks_file}")
        print(f"labeling config for the project: {done.config_file}")
        return 0
    stats = import_review(args.export, args.output)
    print(
        f"wrote {stats['reviewed']} reviewed texts to {args.output} "
        f"({stats['skipped']} tasks without a decision)"
    )
    print(
        json.dumps({k: stats[k] for k in ("exact_agreement", "changed", "by_reason", "by_label")}, indent=2)
    )
    return 0


def _card(args: argparse.Namespace) -> int:
    from mindscreen.card import write_card

    print(f"wrote {write_card(args.path)}")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from mindscreen.extras import require_extras

    require_extras("mindscreen audit", "cleanlab")
    from mindscreen.audit import AuditSettings, audit_data, default_output_dir

    output = Path(args.output) if args.output else default_output_dir(args.data)
    columns = {
        "text_column": args.text_column,
        "label_column": args.label_column,
        "label_delimiter": args.label_delimiter,
        "label_columns": args.label_columns,
    }
    settings = AuditSettings(args.max_length, args.encoder, args.near_threshold)
    report = audit_data(args.data, args.overrides, columns=columns, settings=settings, output_dir=output)
    print(report.format())
    print(f"\nwrote {output / 'audit.json'} (no texts) and {output / 'audit.html'} (shows texts: keep local)")
    return 1 if args.strict and report.blocking else 0


COMMANDS = {
    "train": _train,
    "config": _config,
    "evaluate": _evaluate,
    "predict": _predict,
    "explain": _explain,
    "report": _report,
    "tune": _tune,
    "ensemble": _ensemble,
    "pipeline": _pipeline,
    "serve": _serve,
    "export": _export,
    "audit": _audit,
    "card": _card,
    "review": _review,
}

if __name__ == "__main__":
    raise SystemExit(main())
