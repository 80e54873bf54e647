"""``mindscreen audit``: a data-quality report before training (docs/audit.md).

- :mod:`~mindscreen.audit.table`: every row of a data folder or file, bad rows included.
- :mod:`~mindscreen.audit.profile`: text and label problems per row, class balance per split.
- :mod:`~mindscreen.audit.minhash`: near-duplicate pairs by MinHash + LSH, checked exactly.
- :mod:`~mindscreen.audit.duplicates`: exact and near-duplicate groups, conflicts, leakage.
- :mod:`~mindscreen.audit.label_issues`: likely label errors (cleanlab on out-of-fold TF-IDF).
- :mod:`~mindscreen.audit.lengths`: token lengths and the share cut at a max length.
- :mod:`~mindscreen.audit.report`: :class:`AuditReport`, ``audit.json`` and the console summary.
- :mod:`~mindscreen.audit.html`: ``audit.html``, the one page that shows texts.
- :mod:`~mindscreen.audit.checks`: :func:`audit_data`, the entry point.

cleanlab (the ``audit`` extra) and the tokenizer load only when an audit runs.
"""

from mindscreen.audit.checks import AuditSettings, audit_data, data_config, default_output_dir
from mindscreen.audit.html import HTML_FILE
from mindscreen.audit.report import JSON_FILE, AuditReport

__all__ = [
    "HTML_FILE",
    "JSON_FILE",
    "AuditReport",
    "AuditSettings",
    "audit_data",
    "data_config",
    "default_output_dir",
]
