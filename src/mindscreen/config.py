"""One typed config tree for a run, loaded from YAML plus ``key=value`` overrides.

Every model forbids unknown keys, so a typo fails with its dotted path
(``train.lr_rate: extra inputs are not permitted``). The same dotted paths are
what ``key=value`` overrides address.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(ValueError):
    """A config file or override that cannot be turned into a valid config."""


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SplitConfig(StrictModel):
    """How one file is split when dev and/or test files are missing."""

    dev_fraction: float = Field(0.1, gt=0, lt=1, description="Share of rows held out as dev.")
    test_fraction: float = Field(0.1, ge=0, lt=1, description="Share held out as test (0: none).")
    seed: int = Field(0, description="Seed of the stratified split; same seed, same split.")


class DataConfig(StrictModel):
    """Where the labelled texts are and how to read them."""

    dir: str | None = Field(
        None,
        description="Folder holding train/dev/test files (.jsonl, .json, .csv, .tsv, .parquet); "
        "'demo' is the synthetic demo set shipped with mindscreen.",
    )
    train: str | None = Field(None, description="Training file; overrides the one found in dir.")
    dev: str | None = Field(None, description="Dev (validation) file; split from train if absent.")
    test: str | None = Field(None, description="Test file; split from train if absent.")
    text_column: str = Field("text", description="Column holding the text.")
    label_column: str | None = Field(
        None, description="Column holding the label(s); default 'labels' if present, else 'label'."
    )
    label_columns: list[str] | None = Field(
        None, description="Multi-label given as one 0/1 column per label (names the columns)."
    )
    label_delimiter: str | None = Field(
        None, description="Multi-label given as a delimited string, e.g. '|' for 'stress|anxiety'."
    )
    task: Literal["auto", "multi_class", "multi_label"] = Field(
        "auto",
        description="'auto': multi-label when any row carries a list of labels, or when "
        "label_delimiter or label_columns is set.",
    )
    labels: list[str] | None = Field(
        None,
        description="The label set and its order; default: dataset.json beside the train file, "
        "else sorted. A train label outside this list is an error.",
    )
    split: SplitConfig = Field(default_factory=SplitConfig)

    @model_validator(mode="after")
    def _one_label_format(self) -> DataConfig:
        if self.label_columns is not None and (self.label_column or self.label_delimiter):
            raise ValueError(
                "label_columns (one 0/1 column per label) excludes label_column and label_delimiter"
            )
        return self


class ModelConfig(StrictModel):
    """Encoder, pooling and classification head."""

    encoder: str = Field(
        "minilm",
        description="'minilm' (the embedded all-MiniLM-L6-v2), a local path or a hub id.",
    )
    pooling: str = Field("mean", description="One of: cls, mean, max, mean_max, attention.")
    head_blocks: int = Field(1, ge=0, description="Residual blocks in the head.")
    head_hidden: int | None = Field(
        None, gt=0, description="Width inside each residual block; default: encoder width."
    )
    dropout: float = Field(0.1, ge=0, lt=1)
    max_length: int = Field(128, gt=0, description="Tokens kept per text (the rest is cut).")

    @field_validator("pooling")
    @classmethod
    def _known_pooling(cls, value: str) -> str:
        from mindscreen.pooling import POOLER_NAMES

        if value not in POOLER_NAMES:
            raise ValueError(f"unknown pooling {value!r}; choose one of: {', '.join(POOLER_NAMES)}")
        return value


class TrainConfig(StrictModel):
    """The training loop."""

    epochs: float = Field(3, gt=0, description="Passes over the training data.")
    batch_size: int = Field(32, gt=0, description="Micro-batch size (texts per forward pass).")
    grad_accum: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    lr: float = Field(5e-5, gt=0, description="Peak learning rate.")
    weight_decay: float = Field(0.01, ge=0, description="AdamW decay; never on biases or norms.")
    warmup: float = Field(0.1, ge=0, lt=1, description="Share of steps with linear warmup.")
    clip_norm: float | None = Field(1.0, gt=0, description="Gradient norm clipping; null: off.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="'auto': bf16 (or fp16) autocast on CUDA, fp32 on CPU."
    )
    device: str = Field("auto", description="'auto', 'cpu', 'cuda' or 'cuda:N'.")
    loss: Literal["auto", "cross_entropy", "bce"] = Field(
        "auto", description="'auto': cross-entropy for multi-class, BCE for multi-label."
    )
    eval_every: int | None = Field(
        None, gt=0, description="Evaluate every N optimizer steps; null: at each epoch's end."
    )
    metric: Literal["macro_f1", "micro_f1", "weighted_f1", "accuracy"] = Field(
        "macro_f1", description="Primary metric: early stopping, best checkpoint, thresholds."
    )
    patience: int | None = Field(
        3, ge=1, description="Stop after this many evaluations without improvement; null: never."
    )
    seed: int = 42
    group_by_length: bool = Field(True, description="Batch texts of similar length together.")
    eval_batch_size: int = Field(128, gt=0)
    fit_thresholds: bool = Field(True, description="Fit per-class thresholds on dev for F1.")


class RunConfig(StrictModel):
    """A whole training run."""

    name: str = "run"
    output_dir: str = Field("runs/run", description="The run directory written by train.")
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)


QUICKSTART = "quickstart.yaml"
CONFIG_FILE_NAME = "config.yaml"  # the resolved config inside a run directory


def packaged_config(name: str = QUICKSTART) -> Path:
    """Path of a config shipped inside the package (``mindscreen/configs/NAME``)."""
    return Path(str(resources.files("mindscreen") / "configs" / name))


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> RunConfig:
    """Read a YAML config, apply ``key=value`` overrides and validate the result.

    Args:
        path: YAML file; ``None`` uses the shipped quickstart config.
        overrides: strings like ``train.lr=3e-5`` or ``model.pooling=cls``; values
            are parsed as YAML, so ``null``, numbers, lists and booleans work.

    Raises:
        ConfigError: unreadable file, bad override or invalid value, naming the dotted key.
    """
    path = Path(path) if path is not None else packaged_config()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read config {path}: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path} must be a mapping of keys, found {type(raw).__name__}")
    for item in overrides:
        apply_override(raw, item)
    return validate_config(raw, source=str(path))


def validate_config(raw: Mapping[str, Any], source: str = "config") -> RunConfig:
    """Validate a plain dict as a RunConfig; errors name every offending dotted key."""
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as err:
        lines = [f"{source}: invalid config"]
        for problem in err.errors():
            key = ".".join(str(part) for part in problem["loc"])
            lines.append(f"  {key}: {problem['msg']}")
        raise ConfigError("\n".join(lines)) from None


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Set one dotted ``key=value`` in a raw config dict, in place."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {item!r} is not key=value, e.g. train.lr=3e-5")
    set_dotted(raw, key.strip(), yaml.safe_load(text))


def set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set ``raw[a][b][c] = value`` for key ``a.b.c``, checking each part against RunConfig."""
    parts = key.split(".")
    model: type[BaseModel] | None = RunConfig
    node = raw
    for depth, part in enumerate(parts):
        fields = model.model_fields if model is not None else {}
        if model is not None and part not in fields:
            where = ".".join(parts[:depth]) or "the top level"
            raise ConfigError(
                f"unknown config key {key!r}: {part!r} is not a key of {where}; "
                f"keys there are: {', '.join(fields)}"
            )
        if depth == len(parts) - 1:
            node[part] = value
            return
        annotation = fields[part].annotation if model is not None else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if model is None:
            raise ConfigError(f"unknown config key {key!r}: {'.'.join(parts[: depth + 1])} has no sub-keys")
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set {key!r}: {'.'.join(parts[: depth + 1])} is not a mapping")
        node = child


def dump_config(config: RunConfig) -> str:
    """The resolved config as YAML, every default spelled out."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
