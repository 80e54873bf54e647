"""Request and response bodies of the HTTP API (their JSON Schemas are in ``/openapi.json``)."""

from enum import Enum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from mindscreen.data.texts import has_lone_surrogate
from mindscreen.explain.methods import METHODS
from mindscreen.export.variant import CHECKS, VARIANTS
from mindscreen.pipeline import REVIEW_REASONS, RISK_LEVELS, STAGES

# The enums of the API derive from the lists their code decides with: a new value appears here by itself.
RiskLevel = Enum("RiskLevel", {name: name for name in RISK_LEVELS}, type=str)  # type: ignore[misc]
StageName = Enum("StageName", {name: name for name in STAGES}, type=str)  # type: ignore[misc]
ReviewReason = Enum("ReviewReason", {name: name for name in REVIEW_REASONS}, type=str)  # type: ignore[misc]
VariantName = Enum("VariantName", {name: name for name in VARIANTS}, type=str)  # type: ignore[misc]
CheckResult = Enum("CheckResult", {name: name for name in CHECKS}, type=str)  # type: ignore[misc]
ExplainMethod = Enum("ExplainMethod", {name: name for name in METHODS}, type=str)  # type: ignore[misc]


def _valid_unicode(text: str) -> str:
    if has_lone_surrogate(text):
        raise ValueError(
            "not valid Unicode: the text holds a lone UTF-16 surrogate (half of a character, e.g. an "
            "emoji cut in two, or CESU-8 bytes); send whole characters as UTF-8"
        )
    return text


# A text of a request: any valid Unicode string. A lone surrogate is refused (422 naming the item), not
# repaired: the client has a bug to fix, and a repaired text is not what the person wrote.
Text = Annotated[str, AfterValidator(_valid_unicode)]


class ClassifyRequest(BaseModel):
    """One text (``text``) or several (``texts``): exactly one of the two."""

    model_config = ConfigDict(extra="forbid")

    text: Text | None = Field(None, description="One text to classify.")
    texts: list[Text] | None = Field(None, min_length=1, description="Several texts, classified in order.")

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
    stage: StageName = Field(description="The stage that decided: 'screen' (stage 1) or 'model' (stage 2).")
    needs_review: bool
    review_reasons: list[ReviewReason]


class ClassifyResponse(BaseModel):
    model_version: str
    results: list[TextResult]


class ModelVariant(BaseModel):
    """What stage 2 runs: an ONNX export's fp32 or int8 model, and its recorded torch-vs-ONNX check."""

    variant: VariantName = Field(
        description="'native': a run, ensemble or linear model; 'onnx_*': an export's model."
    )
    check: CheckResult = Field(
        description="The export check of that model; 'failed' or 'unchecked' int8 runs only by opt-in."
    )
    max_abs_diff: float | None = Field(None, description="Largest probability difference to torch.")
    tolerance: float | None = None
    precision: Literal["fp32", "bf16"] | None = Field(
        None,
        description="The model's arithmetic: 'fp32', or 'bf16' (bfloat16 autocast for a native model, "
        "OpenVINO's bfloat16 inference for an export; the export check ran at fp32).",
    )
    runtime: Literal["onnxruntime", "openvino"] | None = Field(
        None, description="What runs an export's model ('onnx_*' variants); null for a native model."
    )


class ExplainRequest(ClassifyRequest):
    """``text`` or ``texts`` as for classify, and optionally which labels to explain and how."""

    labels: list[str] | None = Field(
        None, min_length=1, description="Labels to explain for every text; default: the predicted ones."
    )
    method: ExplainMethod | None = Field(
        None, description="Default occlusion (every model kind); integrated_gradients for trained runs."
    )


class WordAttribution(BaseModel):
    """One word of the text, by character offsets (Unicode code points), and its signed score."""

    start: int
    end: int
    score: float | None = Field(description="Toward the label if positive; null: the model never saw it.")
    seen: bool


class LabelAttribution(BaseModel):
    label: str
    probability: float = Field(description="The probability explained, as /v1/classify reports it.")
    method: str
    words: list[WordAttribution]
    note: str | None = Field(None, description="Why another method than the one asked for was used.")


class CharacterSpan(BaseModel):
    start: int
    end: int


class TextExplanation(TextResult):
    """The decision for one text and what in the text moved it; the text itself is never echoed."""

    explanations: list[LabelAttribution]
    crisis_phrases: list[CharacterSpan] = Field(
        description="Crisis-lexicon matches: the lexicon rule's reason."
    )


class ExplainResponse(BaseModel):
    model_version: str
    results: list[TextExplanation]


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
