"""The HTTP service: ``create_app(settings)`` builds it, ``serve(path)`` runs it with uvicorn.

- :mod:`~mindscreen.serving.settings`: limits, API key, audit log, connection guards.
- :mod:`~mindscreen.serving.schemas`: request and response bodies.
- :mod:`~mindscreen.serving.routes`: ``POST /v1/classify``, ``GET /v1/model``, ``/healthz``, ``/readyz``,
  ``/metrics``.
- :mod:`~mindscreen.serving.admission`: 401 and 429 before a body is read; the model lock.
- :mod:`~mindscreen.serving.guards`: timeout, body limit, API key comparison.
- :mod:`~mindscreen.serving.audit`, :mod:`~mindscreen.serving.metrics`: the audit log and Prometheus.
- :mod:`~mindscreen.serving.startup`: audit log check, model loading and the warm-up self-check.
- :mod:`~mindscreen.serving.app`: the factory, error handlers and access log.
- :mod:`~mindscreen.serving.server`: uvicorn with a header deadline and a connection cap; ``serve``.
"""

from mindscreen.serving.app import create_app
from mindscreen.serving.server import build_server, serve
from mindscreen.serving.settings import ServeSettings
from mindscreen.serving.startup import StartupError

__all__ = ["ServeSettings", "StartupError", "build_server", "create_app", "serve"]
