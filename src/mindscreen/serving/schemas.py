"""Request and response bodies of the HTTP API (their JSON Schemas are in ``/openapi.json``)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RiskLevel = Literal["none", "low", "moderate", "high", "crisis"]


class ClassifyRequest(BaseModel):
    """One text (``text``) or several (``texts``): exactly one of the two."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, description="One text to classify.")
    texts: list[str] | None = Field(None, min_length=1, description="Several texts, classified in order.")

    @model_validator(mode="after")
    def _exactly_one(self) -> "ClassifyRequest":
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of 'text' (a string) or 'texts' (a list of strings)")
        return self

    def all_texts(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


class TextResult(BaseModel):
    """The decision for one text; the text itself is never echoed."""

    labels: list[str] = Field(description="Predicted labels (multi-class: exactly one).")
    probabilities: dict[str, float] = Field(description="Probability per label from the deciding stage.")
    risk: RiskLevel
    stage: Literal["screen", "model"] = Field(description="'screen': stage 1 decided; 'model': stage 2.")
    needs_review: bool
    review_reasons: list[Literal["uncertain", "disagreement", "crisis_phrase"]]


class ClassifyResponse(BaseModel):
    model_version: str
    results: list[TextResult]


class ModelVariant(BaseModel):
    """What stage 2 runs: an ONNX export's fp32 or int8 model, and its recorded torch-vs-ONNX check."""

    variant: Literal["native", "onnx_fp32", "onnx_int8"] = Field(
        description="'native': a run, ensemble or linear model; 'onnx_*': an export's model."
    )
    check: Literal["passed", "failed", "unchecked", "none"] = Field(
        description="The export check of that model; 'failed' or 'unchecked' int8 runs only by opt-in."
    )
    max_abs_diff: float | None = Field(None, description="Largest probability difference to torch.")
    tolerance: float | None = None


class ModelInfo(BaseModel):
    name: str
    version: str
    labels: list[str]
    multi_label: bool
    thresholds: dict[str, float]
    critical_labels: list[str]
    safe_labels: list[str]
    stages: list[str]
    screen_cutoff: float | None
    crisis_lexicon: bool
    abstain_band: float
    disagreement: float | None
    risk_levels: list[str]
    risk_bands: dict[str, float]
    limits: dict[str, float]
    model_variant: ModelVariant
    report: dict[str, object]


class Status(BaseModel):
    status: str
    version: str | None = Field(None, description="/healthz: mindscreen's version; /readyz: the model's.")


class ErrorBody(BaseModel):
    """Every error: a message that says what was expected and how to fix it (never the input)."""

    detail: str | list[dict[str, object]]
