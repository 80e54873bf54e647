"""The HTTP service: ``create_app(settings)`` builds it, ``serve(path)`` runs it with uvicorn.

- :mod:`~mindscreen.serving.settings`: limits, API key, audit log.
- :mod:`~mindscreen.serving.schemas`: request and response bodies.
- :mod:`~mindscreen.serving.routes`: ``POST /v1/classify``, ``GET /v1/model``, ``/healthz``, ``/readyz``,
  ``/metrics``.
- :mod:`~mindscreen.serving.guards`: admission control, timeout, body limit, API key comparison.
- :mod:`~mindscreen.serving.audit`, :mod:`~mindscreen.serving.metrics`: the audit log and Prometheus.
- :mod:`~mindscreen.serving.app`: the factory, error handlers, access log and ``serve``.
"""

from mindscreen.serving.app import create_app, serve
from mindscreen.serving.settings import ServeSettings

__all__ = ["ServeSettings", "create_app", "serve"]
