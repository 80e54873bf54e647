"""The ``mindscreen`` command: a thin layer over the library, one public call per subcommand."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mindscreen import __version__


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
    evaluate.add_argument("--output", help="Also write the metrics as JSON here.")

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
    _corpus_args(predict)

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
    tune.add_argument("--output", help="Study folder (default: <output_dir>-tune).")

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
    serve.add_argument("--timeout", type=float, default=10.0, help="Seconds per request (longer: 504).")
    serve.add_argument("--max-concurrency", type=int, default=4, help="Requests at once (429 past it).")
    serve.add_argument("--audit-log", metavar="FILE", help="Append hashed-id audit lines (JSONL) here.")
    serve.add_argument("--audit-salt-env", metavar="NAME", help="Audit id HMAC key, from env NAME.")

    export = sub.add_parser("export", help="Export a run to ONNX (fp32, optionally int8) and check it.")
    export.add_argument("run", help="Run directory written by train.")
    export.add_argument("--output", help="Export directory (default: <run>-onnx beside the run).")
    export.add_argument("--int8", action="store_true", help="Also write a dynamically quantised int8 model.")
    export.add_argument("--overwrite", action="store_true", help="Replace an existing export directory.")
    return parser


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
    parser.add_argument("-c", "--config", help="YAML config (default: the shipped quickstart).")
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="e.g. train.lr=3e-5 model.pooling=cls"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from mindscreen.config import ConfigError
    from mindscreen.extras import MissingExtraError

    errors = (ConfigError, MissingExtraError, ValueError, FileNotFoundError, FileExistsError, OSError)
    try:
        return COMMANDS[args.command](args)
    except errors as err:
        print(f"mindscreen {args.command}: error: {err}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace) -> int:
    from mindscreen.config import load_config
    from mindscreen.metrics import format_metrics
    from mindscreen.training import train

    config = load_config(args.config, args.overrides)
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
    from mindscreen.config import dump_config, load_config

    print(dump_config(load_config(args.config, args.overrides)), end="")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from mindscreen.evaluation import evaluate_run
    from mindscreen.metrics import format_metrics

    metrics = evaluate_run(
        args.run,
        args.data,
        progress=not args.quiet,
        text_column=args.text_column,
        label_column=args.label_column,
    )
    print(format_metrics(metrics, list(metrics["per_class"])))
    if args.output:
        Path(args.output).write_text(json.dumps(metrics, indent=2) + "\n")
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

    # Through the pipeline for every directory: the same answer `mindscreen serve` gives.
    if args.input is None:
        print(json.dumps(load_pipeline(args.run).classify([args.text])[0].to_dict(), indent=2))
        return 0
    rows = predict_table(args.run, args.input, args.output, args.text_column, not args.quiet)
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
            progress=not args.quiet,
        )
    except CorpusError as err:
        print(f"mindscreen predict: error: {err}", file=sys.stderr)
        return 1
    print(result.summary())
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
    checklist = build_report(args.run, args.output, criteria)
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
        timeout_s=args.timeout,
        max_concurrency=args.max_concurrency,
        audit_log=args.audit_log,
        audit_salt=_secret(args.audit_salt_env),
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from mindscreen.extras import require_extras

    require_extras("mindscreen export", "onnx", "onnxruntime", "onnxscript")
    from mindscreen.export import export_run

    folder, check = export_run(args.run, args.output, int8=args.int8, overwrite=args.overwrite)
    print(f"exported to {folder}")
    if check is None:
        print("not checked: the run's data is not readable here; use mindscreen.export.check_export")
        return 0
    for variant in ("fp32", "int8"):
        if variant in check:
            row = check[variant]
            verdict = "ok" if row["passed"] else "FAILED"
            print(
                f"{variant}: max |prob torch - prob onnx| {row['max_abs_diff']:.2e} "
                f"(tolerance {row['tolerance']}) {verdict}; labels differ on "
                f"{row['label_mismatch_share']:.1%} of {check['num_texts']} dev texts"
            )
    return 0 if check["passed"] else 1


COMMANDS = {
    "train": _train,
    "config": _config,
    "evaluate": _evaluate,
    "predict": _predict,
    "report": _report,
    "tune": _tune,
    "ensemble": _ensemble,
    "pipeline": _pipeline,
    "serve": _serve,
    "export": _export,
}

if __name__ == "__main__":
    raise SystemExit(main())
