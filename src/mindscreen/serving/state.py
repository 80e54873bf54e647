"""What one running app holds: settings, the loaded pipeline, guards, metrics and the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from mindscreen.pipeline import Pipeline
from mindscreen.serving.admission import ConcurrencyGuard
from mindscreen.serving.audit import AuditLog
from mindscreen.serving.batching import MicroBatcher
from mindscreen.serving.metrics import ServiceMetrics
from mindscreen.serving.settings import ServeSettings


@dataclass
class ServiceState:
    settings: ServeSettings
    guard: ConcurrencyGuard
    metrics: ServiceMetrics
    audit: AuditLog | None
    pipeline: Pipeline | None = None
    startup_error: str | None = None  # why start-up failed, for ``serve`` to report
    batcher: MicroBatcher | None = None  # micro-batching, when settings.batch_window_ms is set
