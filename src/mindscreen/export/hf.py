"""``mindscreen export RUN --format transformers``: a folder that plain ``transformers`` loads.

The folder holds the encoder, pooler and head weights in one ``model.safetensors`` (same names as the
run's :class:`~mindscreen.modeling.Classifier`), the tokenizer (``model_max_length`` set to the run's
max length, so ``truncation=True`` cuts where the run does), the remote code
``modeling_mindscreen.py`` (:mod:`mindscreen.export.hf_remote`, which does not import mindscreen) and
a config.json whose ``auto_map`` points at it. The config carries the run's temperature (applied in
``forward``), its calibration method and its thresholds, so users of
``AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)`` or
``pipeline("text-classification", model=folder, trust_remote_code=True)`` get the run's probabilities
and decisions.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from transformers import AutoConfig

from mindscreen.export import hf_remote
from mindscreen.modeling import ENCODER_DIR, load_model
from mindscreen.rundir import (
    CALIBRATION_FILE,
    CARD_FILE,
    fresh_output_dir,
    read_calibration,
    read_json,
    read_thresholds,
    verify_run_dir,
)

REMOTE_FILE = "modeling_mindscreen.py"
AUTO_MAP = {
    "AutoConfig": "modeling_mindscreen.MindscreenConfig",
    "AutoModel": "modeling_mindscreen.MindscreenForSequenceClassification",
    "AutoModelForSequenceClassification": "modeling_mindscreen.MindscreenForSequenceClassification",
}


def default_transformers_dir(run_dir: str | Path) -> Path:
    """``<run>-transformers`` beside the run."""
    run_dir = Path(run_dir).resolve()
    return run_dir.with_name(f"{run_dir.name}-transformers")


def build_transformers_config(run_dir: Path) -> hf_remote.MindscreenConfig:
    """The export's config: the encoder's config nested, plus the run's head, temperature and thresholds."""
    model = read_json(run_dir / "model.json")
    labels = list(model["labels"])
    encoder = AutoConfig.from_pretrained(run_dir / ENCODER_DIR).to_dict()
    calibration = run_dir / CALIBRATION_FILE
    method = read_json(calibration)["method"] if calibration.is_file() else "none"
    config = hf_remote.MindscreenConfig(
        encoder=encoder,
        pooling=model["pooling"],
        head_blocks=model["head_blocks"],
        head_hidden=model["head_hidden"],
        head_dropout=model["dropout"],
        multi_label=bool(model["multi_label"]),
        calibration_temperature=[float(t) for t in read_calibration(run_dir, labels)],
        thresholds=[float(t) for t in read_thresholds(run_dir, labels)],
        calibration_method=method,
        max_tokens=int(model["max_length"]),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        problem_type="multi_label_classification" if model["multi_label"] else "single_label_classification",
    )
    config.auto_map = dict(AUTO_MAP)
    config.architectures = ["MindscreenForSequenceClassification"]
    return config


def export_transformers(
    run_dir: str | Path, output_dir: str | Path | None = None, overwrite: bool = False
) -> Path:
    """Write a run as a folder that ``transformers`` loads with ``trust_remote_code=True``.

    Args:
        run_dir: a finished run directory.
        output_dir: the folder to write (default: ``<run>-transformers`` beside the run).
        overwrite: replace an existing non-empty folder.

    Returns:
        The folder. Its README.md is the run's model card.

    Raises:
        FileExistsError: ``output_dir`` is not empty and ``overwrite`` is False.
        ContractError: the run directory is incomplete or inconsistent.
        ValueError: the run reads long texts as head and tail or in windows, which a plain
            ``transformers`` pipeline (one truncated window per text) would not reproduce.
    """
    run_dir = Path(run_dir)
    verify_run_dir(run_dir)
    long_text = read_json(run_dir / "model.json").get("long_text", "truncate")
    if long_text != "truncate":
        raise ValueError(
            f"{run_dir} reads long texts with model.long_text={long_text}, and a transformers pipeline "
            "reads only the first max-length tokens of a text, so its answers would differ from the "
            "run's. Export it as ONNX instead (mindscreen export RUN), which keeps the mode, or train "
            "with model.long_text=truncate"
        )
    folder = fresh_output_dir(
        Path(output_dir) if output_dir is not None else default_transformers_dir(run_dir), overwrite
    )

    classifier, tokenizer = load_model(run_dir)
    config = build_transformers_config(run_dir)
    exported = hf_remote.MindscreenForSequenceClassification(config)
    exported.load_state_dict(classifier.state_dict(), strict=True)  # same names, or this fails here
    exported.save_pretrained(folder)
    tokenizer.model_max_length = classifier.spec.max_length
    tokenizer.save_pretrained(folder)
    shutil.copyfile(hf_remote.__file__, folder / REMOTE_FILE)
    if (run_dir / CARD_FILE).is_file():
        shutil.copyfile(run_dir / CARD_FILE, folder / CARD_FILE)
    return folder
