"""Review round trip with Label Studio: tasks out, reviewers' decisions back in as training data.

- :mod:`~mindscreen.review.tasks`: :func:`export_review_tasks` picks the texts that need a person
  (crisis risk, the pipeline's review flags, and the most uncertain of the rest for active learning)
  and writes them as Label Studio tasks with the model's labels as pre-annotations and the
  explanation's top words as highlighted spans, plus the labeling config to create the project with.
- :mod:`~mindscreen.review.results`: :func:`import_review` reads a Label Studio JSON export and writes
  a JSONL file ``train`` accepts, with agreement statistics between the model and the reviewers.
"""

from mindscreen.review.results import import_review
from mindscreen.review.tasks import EVIDENCE, FROM_NAME, TO_NAME, export_review_tasks, label_config

__all__ = ["EVIDENCE", "FROM_NAME", "TO_NAME", "export_review_tasks", "import_review", "label_config"]
