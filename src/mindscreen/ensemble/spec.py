"""The ensemble spec: which members, which data the weights are fitted on, how members are combined.

Loaded from YAML plus ``key=value`` overrides like a run config; every model forbids unknown keys, so a
typo fails with its dotted path (``members.1.linear.cc: extra inputs are not permitted``). Paths are
relative to the working directory, as in a run config.

Example::

    output_dir: runs/ensemble
    data: {dir: ../shared/data/sad}
    members:
      - run: runs/sad-mean                 # a finished run directory
      - config: configs/sad.yaml           # trained unless its output_dir is already a finished run
        overrides: [model.pooling=cls, train.seed=3, output_dir=runs/sad-cls]
      - linear: {c: 4.0}                   # the built-in TF-IDF + logistic regression member
        name: tfidf
    combine: {method: weighted, metric: macro_f1}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mindscreen.config import (
    DataConfig,
    StrictModel,
    dump_config,
    load_model_file,
    validate_model,
)
from mindscreen.scores import METRICS, check_metric

SPEC_FILE = "config.yaml"  # the resolved spec inside an ensemble directory


class LinearSettings(StrictModel):
    """The TF-IDF + logistic regression member (see :class:`mindscreen.linear.LinearPredictor`)."""

    c: float = Field(4.0, gt=0, description="Inverse regularisation strength.")
    class_weight: Literal["balanced"] | None = Field("balanced", description="'balanced' or null.")
    char_ngrams: bool = Field(False, description="Add character 2-5-grams to the word 1-2-grams.")
    min_df: int = Field(2, ge=1, description="Keep terms seen in at least this many training texts.")
    max_features: int | None = Field(None, gt=0, description="Keep the most frequent terms; null: all.")


class MemberSpec(StrictModel):
    """One member: exactly one of ``run``, ``config`` or ``linear``."""

    name: str | None = Field(None, description="Name in metrics and weights; default from the source.")
    run: str | None = Field(None, description="A finished run directory.")
    config: str | None = Field(None, description="A run config; trained unless already finished.")
    overrides: list[str] = Field(default_factory=list, description="key=value overrides of config.")
    linear: LinearSettings | None = Field(None, description="The built-in TF-IDF member.")

    @model_validator(mode="before")
    @classmethod
    def _empty_linear(cls, value: Any) -> Any:
        # `- linear:` alone reads as None in YAML; it means "the TF-IDF member with its defaults".
        if (
            isinstance(value, dict)
            and "linear" in value
            and value["linear"] is None
            and value.get("run") is None
            and value.get("config") is None
        ):
            return {**value, "linear": {}}
        return value

    @model_validator(mode="after")
    def _one_source(self) -> MemberSpec:
        given = [key for key in ("run", "config", "linear") if getattr(self, key) is not None]
        if len(given) != 1:
            found = ", ".join(given) or "none"
            raise ValueError(f"a member needs exactly one of run, config, linear; found {found}")
        if self.overrides and self.config is None:
            raise ValueError("overrides apply to a config member only")
        if self.name is not None and (not self.name or "/" in self.name or self.name.startswith(".")):
            raise ValueError(f"member name {self.name!r} must be a plain, non-empty file name")
        return self

    @property
    def kind(self) -> Literal["run", "config", "linear"]:
        return "run" if self.run is not None else "config" if self.config is not None else "linear"

    def default_name(self) -> str:
        if self.run is not None:
            return Path(self.run).name or "run"
        if self.config is not None:
            return Path(self.config).stem
        return "tfidf"


class CombineSpec(StrictModel):
    """How member probabilities become the ensemble's."""

    method: Literal["weighted", "average", "stacking"] = Field(
        "weighted",
        description="'weighted': non-negative weights summing to one, fitted on dev for the metric; "
        "'average': equal weights; 'stacking': logistic regression on member probabilities.",
    )
    metric: str = Field(
        "macro_f1",
        description="Primary metric the weights and thresholds are chosen for; one of: " + ", ".join(METRICS),
    )
    calibrate: bool = Field(True, description="Fit a temperature per member on dev before combining.")
    grid_step: float = Field(0.1, gt=0, le=0.5, description="Finest step of the weight search grid.")
    folds: int = Field(5, ge=2, description="Stacking: cross-validation folds on dev.")
    stacking_c: float = Field(1.0, gt=0, description="Stacking: inverse regularisation strength.")
    seed: int = Field(0, description="Seed of the weight search and the stacking folds.")

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        return check_metric(value)


class EnsembleSpec(StrictModel):
    """A whole ensemble."""

    name: str = "ensemble"
    output_dir: str = Field("runs/ensemble", description="The ensemble directory written by build.")
    data: DataConfig = Field(
        default_factory=DataConfig,
        description="Data whose dev split fits weights and thresholds and whose test split scores them.",
    )
    members: list[MemberSpec] = Field(min_length=1)
    combine: CombineSpec = Field(default_factory=CombineSpec)

    @model_validator(mode="after")
    def _unique_names(self) -> EnsembleSpec:
        explicit = [m.name for m in self.members if m.name is not None]
        repeated = sorted({n for n in explicit if explicit.count(n) > 1})
        if repeated:
            raise ValueError(f"member names must be unique; repeated: {', '.join(repeated)}")
        return self

    def member_names(self) -> list[str]:
        """Each member's name: its ``name``, else one derived from its source (suffixed when repeated)."""
        taken = {m.name for m in self.members if m.name is not None}
        names: list[str] = []
        for member in self.members:
            if member.name is not None:
                names.append(member.name)
                continue
            base, name, count = member.default_name(), member.default_name(), 1
            while name in taken:
                count += 1
                name = f"{base}-{count}"
            taken.add(name)
            names.append(name)
        return names


def load_spec(path: str | Path, overrides: Iterable[str] = ()) -> EnsembleSpec:
    """Read an ensemble spec from YAML, apply ``key=value`` overrides and validate it.

    Args:
        path: the YAML spec.
        overrides: strings like ``combine.method=stacking`` or ``members.2.linear.c=8`` (list items are
            addressed by index); values are parsed as YAML.

    Raises:
        ConfigError: unreadable file, bad override or invalid value, naming the dotted key.
    """
    return load_model_file(EnsembleSpec, path, overrides, "ensemble spec")


def validate_spec(raw: Mapping[str, Any], source: str = "ensemble spec") -> EnsembleSpec:
    """Validate a plain dict as a EnsembleSpec; errors name every offending dotted key."""
    return validate_model(EnsembleSpec, raw, source, "ensemble spec")


def dump_spec(spec: EnsembleSpec) -> str:
    """The resolved spec as YAML, every default spelled out."""
    return dump_config(spec)
