"""The pipeline spec: stage 1 (screen + crisis lexicon), stage 2 (a model), recall floors, review, risk.

Loaded from YAML plus ``key=value`` overrides like a run config; every model forbids unknown keys, so a
typo fails with its dotted path (``screen.cutof: extra inputs are not permitted``). Paths are relative to
the working directory. ``examples/pipeline.yaml`` documents every key; docs/serving.md the decision rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from mindscreen.config import (
    DataConfig,
    StrictModel,
    dump_config,
    load_model_file,
    validate_model,
)

SPEC_FILE = "pipeline.yaml"  # the resolved spec inside a pipeline directory


class ScreenSpec(StrictModel):
    """Stage 1: a TF-IDF + logistic regression screen that decides clear-cut low-risk texts."""

    linear: str | None = Field(
        None, description="An existing linear model directory; null: fit one on data.train."
    )
    c: float = Field(4.0, gt=0, description="Inverse regularisation strength when fitting.")
    class_weight: Literal["balanced"] | None = Field("balanced", description="'balanced' or null.")
    cutoff: float | Literal["fit"] = Field(
        "fit",
        description="Stage 1 decides a text as low risk when its highest risk-label probability is "
        "below this cutoff; 'fit': the largest cutoff that keeps the recall floor on dev.",
    )
    max_macro_f1_drop: float | None = Field(
        0.01,
        ge=0,
        description="When fitting the cutoff, also keep dev macro-F1 at most this far below running "
        "stage 2 on every text; null: the recall floor alone.",
    )

    @model_validator(mode="after")
    def _cutoff_in_range(self) -> ScreenSpec:
        if isinstance(self.cutoff, float) and not 0 <= self.cutoff <= 1:
            raise ValueError(f"cutoff must be 'fit' or a probability in [0, 1], got {self.cutoff}")
        return self


class LexiconSpec(StrictModel):
    """Crisis phrases: a hit always sends the text to stage 2 and makes its risk 'crisis'."""

    enabled: bool = Field(True, description="false: no phrase matching at all.")
    file: str | None = Field(
        None, description="One phrase per line ('#' comments); null: the list shipped with mindscreen."
    )
    phrases: list[str] = Field(default_factory=list, description="Extra phrases, added to the file's.")


class ReviewSpec(StrictModel):
    """When a stage-2 result is marked ``needs_review``."""

    abstain_band: float = Field(
        0.1,
        ge=0,
        lt=0.5,
        description="Unsure when a review label's probability is within this distance of its threshold "
        "(multi-class: the threshold-scaled margin between the two best classes); 0: off.",
    )
    disagreement: float | None = Field(
        0.3,
        gt=0,
        le=0.5,
        description="Ensembles: unsure when at least this share of members votes against the others "
        "on a review label; null: off.",
    )


class RiskSpec(StrictModel):
    """Probability bands of the risk levels below 'crisis' (see docs/serving.md)."""

    high: float = Field(0.8, gt=0, le=1, description="A risk label predicted with p >= high: 'high'.")
    low: float = Field(0.2, ge=0, lt=1, description="No risk label predicted but p >= low: 'low'.")

    @model_validator(mode="after")
    def _ordered(self) -> RiskSpec:
        if self.low >= self.high:
            raise ValueError(f"risk.low ({self.low}) must be below risk.high ({self.high})")
        return self


class PipelineSpec(StrictModel):
    """A whole multistage pipeline."""

    name: str = "pipeline"
    version: str | None = Field(
        None, description="Shown by /v1/model and in the audit log; null: a hash of the fitted pipeline."
    )
    output_dir: str = Field("runs/pipeline", description="The pipeline directory written by fit.")
    model: str = Field(description="Stage 2: a run, ensemble or linear directory.")
    data: DataConfig | None = Field(
        None,
        description="Data whose dev split fits thresholds and the cutoff and whose test split is "
        "reported; null: the data the stage-2 run was trained on.",
    )
    critical_labels: list[str] = Field(
        default_factory=list, description="Labels held to the recall floor, e.g. [suicidal_ideation]."
    )
    safe_labels: list[str] = Field(
        default_factory=list, description="Labels that mean no concern, e.g. [neutral]; never critical."
    )
    recall_floor: float = Field(0.95, gt=0, le=1, description="Dev recall each critical label must reach.")
    screen: ScreenSpec | None = Field(default_factory=ScreenSpec, description="Stage 1; null: none.")
    lexicon: LexiconSpec = Field(default_factory=LexiconSpec)
    review: ReviewSpec = Field(default_factory=ReviewSpec)
    risk: RiskSpec = Field(default_factory=RiskSpec)

    @model_validator(mode="after")
    def _labels_apart(self) -> PipelineSpec:
        both = sorted(set(self.critical_labels) & set(self.safe_labels))
        if both:
            raise ValueError(f"labels cannot be both critical and safe: {', '.join(both)}")
        return self


def load_spec(path: str | Path, overrides: Iterable[str] = ()) -> PipelineSpec:
    """Read a pipeline spec from YAML, apply ``key=value`` overrides and validate it.

    Args:
        path: the YAML spec.
        overrides: strings like ``recall_floor=0.9`` or ``screen.cutoff=0.2``; values are parsed as YAML.

    Raises:
        ConfigError: unreadable file, bad override or invalid value, naming the dotted key.
    """
    return load_model_file(PipelineSpec, path, overrides, "pipeline spec")


def validate_spec(raw: Mapping[str, Any], source: str = "pipeline spec") -> PipelineSpec:
    """Validate a plain dict as a PipelineSpec; errors name every offending dotted key."""
    return validate_model(PipelineSpec, raw, source, "pipeline spec")


def dump_spec(spec: PipelineSpec) -> str:
    """The resolved spec as YAML, every default spelled out."""
    return dump_config(spec)
