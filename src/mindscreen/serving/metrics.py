"""Prometheus metrics of one app, in a registry of its own (so several apps never collide).

Label values come from fixed sets (route templates, status codes, stages, risk levels, reasons),
never from request content.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mindscreen.export.variant import CHECKS, VARIANTS, describe_variant
from mindscreen.pipeline import Result

ROUTES = (
    "/v1/classify",
    "/v1/explain",
    "/v1/model",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
)
REASONS = {
    401: "unauthorized",
    413: "too_large",
    422: "invalid",
    429: "overload",
    503: "busy",
    504: "timeout",
}
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServiceMetrics:
    """Request counts and latency by route and status; texts by stage and risk; rejections by reason."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mindscreen_requests",
            "HTTP requests by route and status.",
            ("route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "mindscreen_request_seconds",
            "Request latency by route.",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_time = Histogram(
            "mindscreen_model_seconds",
            "Time spent waiting for and running the model, by route.",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.texts = Counter(
            "mindscreen_texts",
            "Texts classified by deciding stage and risk.",
            ("stage", "risk"),
            registry=self.registry,
        )
        self.review = Counter("mindscreen_needs_review", "Texts marked needs_review.", registry=self.registry)
        self.rejected = Counter(
            "mindscreen_rejected", "Requests refused, by reason.", ("reason",), registry=self.registry
        )
        self.in_flight = Gauge(
            "mindscreen_in_flight", "Classify requests being served.", registry=self.registry
        )
        self.audit_failures = Counter(
            "mindscreen_audit_failures",
            "Classify requests answered 503 because the audit log could not be written.",
            registry=self.registry,
        )
        self.model_variant = Gauge(
            "mindscreen_model_variant",
            "1 for the stage-2 model variant served and the result of its export check "
            "(check='failed': an int8 model that failed its check, served by opt-in).",
            ("variant", "check"),
            registry=self.registry,
        )

    def observe_model(self, model: object) -> dict[str, Any]:
        """Set ``mindscreen_model_variant`` for the model served; return its description."""
        described = describe_variant(model)
        for variant in VARIANTS:
            for check in CHECKS:
                on = (variant, check) == (described["variant"], described["check"])
                self.model_variant.labels(variant=variant, check=check).set(1.0 if on else 0.0)
        return described

    def observe_request(self, path: str, status: int, seconds: float, reason: str | None = None) -> None:
        """Count a request by route and status; a refusal also by ``reason`` (default: by status)."""
        route = path if path in ROUTES else "other"
        self.requests.labels(route=route, status=str(status)).inc()
        self.latency.labels(route=route).observe(seconds)
        reason = reason or REASONS.get(status)
        if reason is not None and status >= 400:
            self.rejected.labels(reason=reason).inc()

    def observe_results(self, results: list[Result]) -> None:
        for result in results:
            self.texts.labels(stage=result.stage, risk=result.risk).inc()
            if result.needs_review:
                self.review.inc()
