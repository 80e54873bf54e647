"""One typed config tree for a run, loaded from YAML plus ``key=value`` overrides.

Every model forbids unknown keys, so a typo fails with its dotted path
(``train.lr_rate: extra inputs are not permitted``). The same dotted paths are
what ``key=value`` overrides address.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mindscreen.losses import LossConfig
from mindscreen.scores import METRICS, check_metric

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A config file or override that cannot be turned into a valid config."""


# Loss keys of train before they moved under train.loss: old name -> new dotted path.
LEGACY_LOSS_KEYS = {
    "label_smoothing": "train.loss.label_smoothing",
    "class_weights": "train.loss.class_weights",
    "class_weight_beta": "train.loss.class_weight_beta",
    "focal_gamma": "train.loss.focal.gamma",
    "focal_alpha": "train.loss.focal.alpha",
    "asl_gamma_pos": "train.loss.asymmetric.gamma_pos",
    "asl_gamma_neg": "train.loss.asymmetric.gamma_neg",
    "asl_clip": "train.loss.asymmetric.clip",
}


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
    max_length: int = Field(128, gt=0, description="Tokens per window, special tokens included.")
    long_text: Literal["truncate", "head_tail", "chunks"] = Field(
        "truncate",
        description="A text longer than max_length: 'truncate' (keep the first tokens), 'head_tail' (the "
        "first quarter and the last three quarters) or 'chunks' (overlapping windows, outputs aggregated).",
    )

    @field_validator("pooling")
    @classmethod
    def _known_pooling(cls, value: str) -> str:
        from mindscreen.pooling import POOLER_NAMES

        if value not in POOLER_NAMES:
            raise ValueError(f"unknown pooling {value!r}; choose one of: {', '.join(POOLER_NAMES)}")
        return value


class TrainConfig(StrictModel):
    """The training loop, and the techniques for imbalanced data (docs/training-guide.md).

    The defaults are the plain recipe: cross-entropy or BCE, no class weights, no sampling,
    no layer-wise decay, no weight averaging, no calibration; thresholds fitted on dev.
    """

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
    loss: LossConfig = Field(  # type: ignore[valid-type]
        default_factory=LossConfig,
        description="The loss (name: auto, or a registered loss), label smoothing, class weights, and "
        "each loss's parameters in its own section (train.loss.focal.gamma); see mindscreen.losses.",
    )
    sampling: Literal["none", "class_balanced"] = Field(
        "none",
        description="'class_balanced': draw each epoch's examples with replacement, weighted by "
        "class frequency ** -sampling_power.",
    )
    sampling_power: float = Field(
        1.0, ge=0, le=1, description="1: every class drawn equally often; 0.5: square-root balancing."
    )
    sampling_multi_label: Literal["rarest", "mean"] = Field(
        "rarest",
        description="Multi-label example weight: the weight of its rarest label, or the mean over "
        "its labels.",
    )
    llrd: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Layer-wise lr decay: encoder layer l of L trains at lr * llrd^(L-l), "
        "embeddings at lr * llrd^L; null: one lr for the encoder.",
    )
    head_lr: float | None = Field(
        None, gt=0, description="Learning rate of the pooler and head; null: the same as lr."
    )
    ema_decay: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Exponential moving average of the weights, evaluated and saved instead of the "
        "raw weights (e.g. 0.999); null: off.",
    )
    oom_recovery: bool = Field(
        True,
        description="On CUDA out-of-memory, halve the micro-batch and double grad_accum (same "
        "effective batch) and redo the step.",
    )
    pad_to_multiple: int = Field(
        1, ge=1, description="Round each batch's padded length up to a multiple of this (8 or 16 on GPU)."
    )
    compile: bool = Field(
        False, description="torch.compile the model for training (pays on GPU with pad_to_multiple >= 16)."
    )
    eval_every: int | None = Field(
        None, gt=0, description="Evaluate every N optimizer steps; null: at each epoch's end."
    )
    metric: str = Field(
        "macro_f1",
        description="Primary metric (early stopping, best checkpoint, thresholds); one of: "
        + ", ".join(METRICS),
    )
    patience: int | None = Field(
        3, ge=1, description="Stop after this many evaluations without improvement; null: never."
    )
    seed: int = 42
    group_by_length: bool = Field(True, description="Batch texts of similar length together.")
    eval_batch_size: int = Field(128, gt=0)
    calibration: Literal["none", "temperature", "per_class"] = Field(
        "none",
        description="Fit on dev logits after training: one temperature (Guo et al. 2017) or one per "
        "class ('per_class'); predict_proba applies it and thresholds are fitted on the calibrated "
        "probabilities. ECE before/after goes to metrics.json either way.",
    )
    fit_thresholds: bool = Field(True, description="Fit per-class thresholds on dev for F1.")
    tracking: list[Literal["mlflow", "tensorboard"]] = Field(
        default_factory=list,
        description="Experiment trackers to report to (the 'track' extra): 'mlflow' (params, metrics per "
        "evaluation, final per-class metrics, the run directory as artifacts) and/or 'tensorboard' (event "
        "files in RUN/tensorboard). Texts are never sent. Search trials are not tracked.",
    )
    tracking_uri: str | None = Field(
        None,
        description="MLflow tracking URI: a server URL (http://host:5000), sqlite:///mlflow.db or a folder; "
        "null: MLflow's default (MLFLOW_TRACKING_URI, else its local store).",
    )
    experiment: str = Field("mindscreen", description="MLflow experiment the run is logged under.")
    threshold_folds: int | None = Field(
        5,
        ge=2,
        description="Keep a fitted threshold only where K-fold out-of-fold F1 on dev beats the default "
        "(multi-class: all classes or none, on macro-F1); null fits on all of dev and keeps the result, "
        "the old behaviour.",
    )
    threshold_confidence: float = Field(
        0.7,
        ge=0,
        lt=1,
        description="Share of bootstrap resamples of dev in which the out-of-fold F1 must beat the "
        "default's for a fitted threshold to be kept; 0 keeps any fit that wins once.",
    )

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        return check_metric(value)

    @model_validator(mode="before")
    @classmethod
    def _legacy_loss_keys(cls, value: Any) -> Any:
        """Move the flat loss keys of configs written before ``train.loss`` became a section."""
        if not isinstance(value, dict):
            return value
        moved = {old: value[old] for old in LEGACY_LOSS_KEYS if old in value}
        if not moved:
            return value
        value = {k: v for k, v in value.items() if k not in moved}
        loss = value.get("loss")
        loss = {"name": loss} if isinstance(loss, str) else dict(loss or {})
        for old, item in moved.items():
            path = LEGACY_LOSS_KEYS[old].split(".")[2:]  # drop "train.loss"
            node = loss
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = item
        logger.warning(
            "config keys %s moved under train.loss (%s); the old names still work for now",
            ", ".join(f"train.{k}" for k in moved),
            ", ".join(LEGACY_LOSS_KEYS[k] for k in moved),
        )
        return {**value, "loss": loss}


class AugmentConfig(StrictModel):
    """Offline text augmentation of training texts (EDA, Wei & Zou 2019), redrawn every epoch.

    Dev and test texts are never augmented. Augmented texts replace their originals for that
    epoch only, so the number of steps is unchanged.
    """

    probability: float = Field(
        0.0, ge=0, le=1, description="Share of (eligible) training texts augmented each epoch; 0: off."
    )
    synonym_replacement: float = Field(
        0.1, ge=0, le=1, description="Share of words replaced by a synonym from the word list."
    )
    random_insertion: float = Field(
        0.1, ge=0, le=1, description="Synonyms of words in the text inserted, as a share of words."
    )
    random_swap: float = Field(0.1, ge=0, le=1, description="Word pairs swapped, as a share of words.")
    random_deletion: float = Field(0.1, ge=0, lt=1, description="Probability that each word is dropped.")
    minority_only: bool = Field(
        False, description="Augment only texts carrying a minority class (see minority_share)."
    )
    minority_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="A class is a minority when its training count is below this share of the "
        "largest class's count.",
    )
    synonyms: str | None = Field(
        None,
        description="Synonym list: TSV, one group of interchangeable words per line; null: the list "
        "shipped with mindscreen (resources/synonyms.tsv).",
    )


class RunConfig(StrictModel):
    """A whole training run."""

    name: str = "run"
    output_dir: str = Field("runs/run", description="The run directory written by train.")
    defaults_from_data: bool = Field(
        True,
        description="Choose the keys you did not set (max length, epochs, evaluation cadence, class "
        "weights, learning rate) from a profile of the data (docs/training-guide.md); false: the "
        "library defaults as they are.",
    )
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)


QUICKSTART = "quickstart.yaml"


def packaged_config(name: str = QUICKSTART) -> Path:
    """Path of a config shipped inside the package (``mindscreen/configs/NAME``)."""
    return Path(str(resources.files("mindscreen") / "configs" / name))


# data.* keys that name where the texts come from; any of them (but data.dir=demo) is the user's data.
DATA_SOURCE_KEYS = ("dir", "train", "dev", "test")


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> RunConfig:
    """Read a YAML config, apply ``key=value`` overrides and validate the result.

    Without a file, the shipped quickstart config applies to the demo data alone: when the
    overrides name no data (or ``data.dir=demo``). Overrides that name the user's own data
    (``data.train``, ``data.dir`` other than demo, ``data.dev``, ``data.test``) start from the
    library defaults (``RunConfig()``), never from the demo's settings.

    Args:
        path: YAML file; ``None``: the quickstart for the demo, else the library defaults.
        overrides: strings like ``train.lr=3e-5`` or ``model.pooling=cls``; values
            are parsed as YAML, so ``null``, numbers, lists and booleans work (see
            :func:`apply_override` for string keys).

    Raises:
        ConfigError: unreadable file, bad override or invalid value, naming the dotted key.
    """
    overrides = list(overrides)
    if path is not None:
        return load_model_file(RunConfig, path, overrides, "config")
    raw: dict[str, Any] = {}
    for item in overrides:
        apply_override(raw, item, RunConfig)
    if names_demo_data(raw):
        return load_model_file(RunConfig, packaged_config(), overrides, "config")
    return validate_model(RunConfig, raw, "command line", "config")


def names_demo_data(raw: Mapping[str, Any]) -> bool:
    """Whether a raw config names no data source, or only ``data.dir=demo``."""
    data = raw.get("data")
    if data is None:
        return True
    if not isinstance(data, Mapping):
        return False
    sources = {key: data[key] for key in DATA_SOURCE_KEYS if data.get(key) is not None}
    return sources in ({}, {"dir": "demo"})


def load_model_file(model: type[M], path: str | Path, overrides: Iterable[str], what: str) -> M:
    """Read YAML ``path``, apply dotted ``key=value`` overrides and validate it as ``model``.

    The one loader behind the run config and the ensemble and pipeline specs.
    """
    path = Path(path)
    raw = read_yaml_mapping(path, what)
    for item in overrides:
        apply_override(raw, item, model)
    return validate_model(model, raw, str(path), what)


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """A YAML file that must hold a mapping (a config or spec); errors name the file."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read {what} {path}: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{what} {path} must be a mapping of keys, found {type(raw).__name__}")
    return raw


def validate_config(raw: Mapping[str, Any], source: str = "config") -> RunConfig:
    """Validate a plain dict as a RunConfig; errors name every offending dotted key."""
    return validate_model(RunConfig, raw, source, "config")


def validate_model(model: type[M], raw: Mapping[str, Any], source: str, what: str) -> M:
    """Validate ``raw`` as ``model`` (a config or spec); errors name every offending dotted key."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        lines = [f"{source}: invalid {what}"]
        for problem in err.errors():
            key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
            lines.append(f"  {key}: {problem['msg']}")
        raise ConfigError("\n".join(lines)) from None


def apply_override(raw: dict[str, Any], item: str, root: type[BaseModel] | None = None) -> None:
    """Set one dotted ``key=value`` in a raw config (or spec of model ``root``) dict, in place.

    The value is parsed as YAML, except where YAML would turn the text for a string key into
    something else: ``data.label_delimiter=|`` (what a shell passes for ``'|'``) is the string
    ``|``, not YAML's empty block scalar; ``data.text_column=2`` is ``"2"``. ``null`` stays null.
    """
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {item!r} is not key=value, e.g. train.lr=3e-5")
    from mindscreen.overrides import field_annotation, parse_value

    key = key.strip()
    set_dotted(raw, key, parse_value(key, text, field_annotation(root or RunConfig, key)), root)


def set_dotted(raw: dict[str, Any], key: str, value: Any, root: type[BaseModel] | None = None) -> None:
    """Set ``raw[a][b][c] = value`` for key ``a.b.c``, checking each part against ``root``.

    ``root`` defaults to RunConfig. A number addresses an item of a list (``members.2.name``).
    """
    model: type[BaseModel] | None = root or RunConfig
    key = _current_name(key) if model is RunConfig else key
    parts = key.split(".")
    node: Any = raw
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth]) or "the top level"
        index: Any
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(
                    f"cannot set {key!r}: {where} has {len(node)} items, indexed 0..{len(node) - 1}"
                )
            index, child_model = int(part), model
        elif model is None:
            raise ConfigError(f"unknown config key {key!r}: {where} has no sub-keys")
        elif part not in model.model_fields:
            raise ConfigError(
                f"unknown config key {key!r}: {part!r} is not a key of {where}; "
                f"keys there are: {', '.join(model.model_fields)}"
            )
        else:
            index, child_model = part, model_of(model.model_fields[part].annotation)
        shorthand = getattr(child_model, "SHORTHAND", None)
        existing = node[index] if isinstance(node, list) else node.get(part)
        if shorthand is not None and not isinstance(existing, dict):
            # `train.loss=focal` names the section's shorthand key, keeping what is set beside it.
            existing = {shorthand: existing} if existing is not None else {}
        if depth == len(parts) - 1:
            is_scalar = shorthand is not None and not isinstance(value, dict)
            node[index] = {**existing, shorthand: value} if is_scalar else value
            return
        child = existing
        if child is None:
            child = {}
        node[index] = child
        if not isinstance(child, dict | list):
            raise ConfigError(f"cannot set {key!r}: {'.'.join(parts[: depth + 1])} is not a mapping")
        node, model = child, child_model


def _current_name(key: str) -> str:
    """``key`` with a config key that has moved (see :data:`LEGACY_LOSS_KEYS`) renamed, with a warning."""
    section, _, name = key.partition(".")
    if section != "train" or name not in LEGACY_LOSS_KEYS:
        return key
    new = LEGACY_LOSS_KEYS[name]
    logger.warning("config key %s is now %s; the old name still works for now", key, new)
    return new


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``X``, ``X | None``, ``list[X]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = model_of(arg)
        if found is not None:
            return found
    return None


def dump_config(config: BaseModel) -> str:
    """A resolved config (or spec) as YAML, every default spelled out."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
