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

    predict = sub.add_parser("predict", help="Label texts: one given inline, or a whole file.")
    predict.add_argument("run", help="Run directory written by train.")
    predict.add_argument("text", nargs="?", help="A text to classify (or use --input).")
    predict.add_argument("--input", help="CSV, TSV, JSONL or Parquet file of texts.")
    predict.add_argument("--output", help="Where to write the input plus labels and probabilities.")
    predict.add_argument("--text-column", help="Text column of --input (default: the run's).")
    return parser


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

    try:
        return COMMANDS[args.command](args)
    except (ConfigError, ValueError, FileNotFoundError, FileExistsError, OSError) as err:
        print(f"mindscreen {args.command}: error: {err}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace) -> int:
    from mindscreen.config import load_config
    from mindscreen.metrics import format_metrics
    from mindscreen.training import train

    config = load_config(args.config, args.overrides)
    result = train(config, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
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

    metrics = evaluate_run(args.run, args.data, text_column=args.text_column, label_column=args.label_column)
    print(format_metrics(metrics, list(metrics["per_class"])))
    if args.output:
        Path(args.output).write_text(json.dumps(metrics, indent=2) + "\n")
    return 0


def _predict(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.input is None):
        raise ValueError("give either one text or --input FILE (with --output FILE)")
    if args.input is not None:
        if args.output is None:
            raise ValueError("--input needs --output FILE (.csv, .tsv, .jsonl or .parquet)")
        from mindscreen.evaluation import predict_file

        rows = predict_file(args.run, args.input, args.output, args.text_column)
        print(f"wrote {rows} predictions to {args.output}")
        return 0
    from mindscreen.predictor import Predictor

    predictor = Predictor.from_dir(args.run)
    probs = predictor.predict_proba([args.text])
    labels = predictor.decide(probs)[0]
    print(
        json.dumps(
            {
                "labels": labels,
                "probabilities": {
                    label: round(float(p), 4) for label, p in zip(predictor.labels, probs[0], strict=True)
                },
            },
            indent=2,
        )
    )
    return 0


COMMANDS = {"train": _train, "config": _config, "evaluate": _evaluate, "predict": _predict}

if __name__ == "__main__":
    raise SystemExit(main())
