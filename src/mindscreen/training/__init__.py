"""The training loop and its parts: batching, epochs, optimisation, EMA, checkpoints, the run's end.

``train`` and ``TrainResult`` load on first use, so that light modules such as
:mod:`mindscreen.inference` can import :mod:`mindscreen.training.batching` without pulling in the
loop (which imports them back).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mindscreen.training.loop import TrainResult, train

__all__ = ["TrainResult", "train"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from mindscreen.training import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'mindscreen.training' has no attribute {name!r}")
