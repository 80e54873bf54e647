"""Explanations a reviewer can check: which words moved each decision, with character offsets.

- :mod:`~mindscreen.explain.words`: the words of a text with character offsets; texts with words removed.
- :mod:`~mindscreen.explain.seen`: which characters a model saw (:func:`seen_spans`, the one place that
  knows the encoding's truncation rule), and tokens to words.
- :mod:`~mindscreen.explain.occlusion`: model-agnostic word deletion through ``predict_proba``.
- :mod:`~mindscreen.explain.gradients`: Integrated Gradients on the token embeddings (Captum).
- :mod:`~mindscreen.explain.attention`: the attention-weight baseline of the benchmark.
- :mod:`~mindscreen.explain.methods`: the methods offered and the default.
- :mod:`~mindscreen.explain.pipeline`: :func:`explain`, through the pipeline, for the deciding stage.
- :mod:`~mindscreen.explain.result`: :class:`Explanation` and its parts, with ``to_dict``.
- :mod:`~mindscreen.explain.faithfulness`: ERASER comprehensiveness and sufficiency.
- :mod:`~mindscreen.explain.render`, :mod:`~mindscreen.explain.page`: the terminal and HTML views.
- :mod:`~mindscreen.explain.batch`: :func:`explain_table` over a file, to JSONL (and HTML).

Attributions show what moved the model, not why a person wrote what they wrote. Importing this package
imports neither torch nor Captum: the gradient and attention methods load them when used.
"""

from mindscreen.explain.methods import DEFAULT_METHOD, METHODS
from mindscreen.explain.pipeline import as_pipeline, explain
from mindscreen.explain.result import Explanation, LabelExplanation, WordScore
from mindscreen.explain.seen import seen_spans
from mindscreen.explain.words import segment

__all__ = [
    "DEFAULT_METHOD",
    "METHODS",
    "Explanation",
    "LabelExplanation",
    "WordScore",
    "as_pipeline",
    "explain",
    "seen_spans",
    "segment",
]
