"""Optional dependencies: a missing one fails with the pip command that installs it.

``import mindscreen`` never needs an extra (a test checks it); the features at the edges check
for theirs before starting, so ``mindscreen tune`` without optuna says what to install instead of
ending in a traceback.
"""

from __future__ import annotations

import importlib.util

# Import name -> the extra of pyproject.toml that installs it.
EXTRA_OF = {
    "optuna": "tune",
    "fastapi": "serve",
    "uvicorn": "serve",
    "prometheus_client": "serve",
    "onnx": "serve",
    "onnxruntime": "serve",
    "onnxscript": "serve",
    "matplotlib": "report",
    "cleanlab": "audit",
    "ray": "ray",
    "captum": "explain",
    "openvino": "openvino",
    "mlflow": "track",
    "tensorboard": "track",
}


class MissingExtraError(ModuleNotFoundError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def require_extras(feature: str, *modules: str) -> None:
    """Raise :class:`MissingExtraError` unless every module in ``modules`` can be imported.

    Args:
        feature: What needs them, for the message (``"mindscreen tune"``).
        modules: Import names, each a key of ``EXTRA_OF``.
    """
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        extras = sorted({EXTRA_OF[name] for name in missing})
        raise MissingExtraError(
            f"{feature} needs {', '.join(missing)}, which is not installed; install it with: "
            f"pip install 'mindscreen[{','.join(extras)}]'"
        )
