"""TensorBoard: event files in ``RUN/tensorboard`` (``tensorboard --logdir RUN/tensorboard``).

Scalars per evaluation (losses, the primary metric, the train-vs-val gap, learning rate), the final
dev/test metrics per class at the last step, and the resolved config as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mindscreen.tracking.base import numeric

TENSORBOARD_DIR = "tensorboard"


class TensorBoardTracker:
    """Writes one event file per training run with torch's ``SummaryWriter``."""

    uploads_run_dir = False

    def __init__(self) -> None:
        self.writer: Any = None

    def start(self, run_dir: Path, params: Mapping[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / TENSORBOARD_DIR))
        lines = "\n".join(f"    {key}: {value}" for key, value in params.items())
        self.writer.add_text("params", lines, 0)

    def log_evaluation(self, step: int, record: Mapping[str, Any]) -> None:
        for key, value in numeric({k: v for k, v in record.items() if k != "step"}).items():
            self.writer.add_scalar(key.replace(".", "/"), value, step)
        self.writer.flush()

    def finish(self, run_dir: Path, metrics: Mapping[str, Any]) -> None:
        if self.writer is None:
            return
        final = {k: v for k, v in metrics.items() if k in ("dev", "test", "calibration", "dev_slices")}
        step = int(metrics.get("steps", 0))
        for key, value in numeric(final).items():
            self.writer.add_scalar("final/" + key.replace(".", "/"), value, step)
        self.writer.close()

    def fail(self) -> None:
        if self.writer is not None:
            self.writer.close()  # what was logged so far stays readable
