"""What the service is configured with: the model, the request limits, the API key, the audit log."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from mindscreen.config import StrictModel
from mindscreen.data import MAX_CHARS


class ServeSettings(StrictModel):
    """Settings of one service instance (``mindscreen serve`` flags map onto these fields)."""

    model_path: str | None = Field(None, description="A pipeline, run, ensemble or linear directory.")
    max_texts: int = Field(64, ge=1, le=10_000, description="Texts per request; more: 413.")
    max_explain_texts: int = Field(
        8,
        ge=1,
        le=10_000,
        description="Texts per /v1/explain request (each costs many predictions); more: 413.",
    )
    max_chars: int = Field(MAX_CHARS, ge=1, le=1_000_000, description="Characters per text; more: 413.")
    timeout_s: float = Field(10.0, gt=0, description="Wall time per request; longer: 504.")
    max_concurrency: int = Field(
        4,
        ge=1,
        le=256,
        description="Classify requests admitted at once; more wait up to 1 s for a slot, then 429.",
    )
    batch_window_ms: float | None = Field(
        None,
        ge=0,
        le=100,
        description="Micro-batching: concurrent classify requests share one model call on one model "
        "thread, which waits this long after the first for more (0: takes those already waiting). "
        "Raise max_concurrency with it (a batch holds at most that many requests). None: off, each "
        "request runs alone. Leave it off for a dynamic int8 model, whose answers depend on the batch.",
    )
    api_key: SecretStr | None = Field(
        None, description="When set, /v1/* needs it as X-API-Key or Authorization: Bearer; else 401."
    )
    audit_log: str | None = Field(None, description="JSONL file: hashed text id, version, stage, labels.")
    allow_failed_int8: bool = Field(
        False,
        description="Serve an ONNX export's int8 model even when its recorded check failed or never ran "
        "(reported in /v1/model and mindscreen_model_variant); default: fp32 then.",
    )
    precision: Literal["fp32", "bf16"] = Field(
        "fp32",
        description="bf16: bfloat16 matrix products on CPUs with native bfloat16 (AVX512-BF16, AMX); runs "
        "and ensembles run under bfloat16 autocast, ONNX exports need runtime 'openvino' for it.",
    )
    runtime: Literal["onnxruntime", "openvino"] = Field(
        "onnxruntime",
        description="What runs an ONNX export: ONNX Runtime, or OpenVINO (mindscreen[openvino]), which "
        "also runs it at precision bf16.",
    )
    audit_salt: SecretStr | None = Field(
        None, description="HMAC-SHA256 key of the audit text ids; null: plain SHA-256 (guessable)."
    )
    metrics: Literal["key", "public", "off"] = Field(
        "key",
        description="/metrics access: 'key' needs the API key when one is set, 'public' is open to "
        "anyone who can reach the port, 'off' answers 404. The counts by risk level are sensitive.",
    )
    header_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Seconds a connection may take to send a request's headers."
    )
    max_connections: int = Field(
        1024,
        ge=8,
        le=100_000,
        description="Open connections; past it the one waiting longest for a request is closed.",
    )

    @property
    def max_body_bytes(self) -> int:
        """Largest request body read: every text at full length, JSON-escaped, plus room for the rest."""
        return self.max_texts * (self.max_chars * 6 + 16) + 65_536
