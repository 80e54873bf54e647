"""Run reports: one self-contained HTML page with figures, and a pass/fail checklist.

- :mod:`~mindscreen.report.checklist`: success criteria (:class:`Criteria`) checked against a run's
  ``metrics.json`` and ``log.jsonl``.
- :mod:`~mindscreen.report.plots`: matplotlib figures (Agg backend) as base64 PNGs.
- :mod:`~mindscreen.report.html`: :func:`build_report`, the page itself.

matplotlib (the ``report`` extra) is imported only when a report is built.
"""

from mindscreen.report.checklist import (
    Checklist,
    CheckResult,
    Criteria,
    evaluate_checklist,
    load_criteria,
)
from mindscreen.report.html import REPORT_FILE, build_report

__all__ = [
    "REPORT_FILE",
    "CheckResult",
    "Checklist",
    "Criteria",
    "build_report",
    "evaluate_checklist",
    "load_criteria",
]
