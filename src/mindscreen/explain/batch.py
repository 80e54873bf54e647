"""``mindscreen explain --input``: a table of texts in, one JSON line of offsets and scores per text out.

Each line holds the row number, the decision (as ``predict`` gives it), the explanation of each label
with its words' character offsets and scores, and the crisis-phrase spans; never the text. ``--html``
adds one self-contained page with the texts highlighted, for the data's owner.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from mindscreen.data import MAX_CHARS, cut_texts, read_texts, warn_cut
from mindscreen.explain.methods import STEPS
from mindscreen.explain.page import write_page
from mindscreen.explain.pipeline import as_pipeline, explain
from mindscreen.explain.result import Explanation
from mindscreen.pipeline import Pipeline
from mindscreen.pipeline.batch import default_text_column

if TYPE_CHECKING:
    from mindscreen.predictors import LoadOptions

CHUNK = 32  # texts explained per call: each costs about as much as predicting its words one by one


def explain_table(
    target: str | Path | Pipeline,
    input_path: str | Path,
    output_path: str | Path,
    html_path: str | Path | None = None,
    text_column: str | None = None,
    labels: list[str] | None = None,
    method: str | None = None,
    steps: int = STEPS,
    progress: bool = False,
    max_chars: int = MAX_CHARS,
    options: LoadOptions | None = None,
) -> int:
    """Explain every text of a table; write JSONL (and optionally an HTML page).

    Args:
        target: a pipeline, or a pipeline / run / ensemble / linear / export directory.
        input_path: CSV, TSV, JSONL or Parquet file.
        output_path: the JSONL file to write.
        html_path: also write the highlighted page here.
        text_column: the column holding the texts; None: the one the model was trained with.
        labels, method, steps: as in :func:`~mindscreen.explain.explain`.
        progress: show a progress bar over the texts (it never shows a text).
        max_chars: texts are cut to this many characters first, as ``predict`` cuts them (a warning
            gives the count and the rows); the HTML page shows the part that was read.
        options: how a directory's model loads (e.g. ``allow_failed_int8``).

    Returns:
        The number of texts explained.
    """
    if text_column is None:
        text_column = default_text_column(Path(target)) if not isinstance(target, Pipeline) else "text"
    pipeline = as_pipeline(target, options)
    _, texts = read_texts(input_path, text_column)
    texts, cut = cut_texts(texts, max_chars)
    warn_cut(str(input_path), cut, len(texts), max_chars)
    explanations: list[Explanation] = []
    output = Path(output_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    with (
        output.open("w", encoding="utf-8") as handle,
        tqdm(total=len(texts), desc="explain", unit="text", disable=not progress) as bar,
    ):
        for start in range(0, len(texts), CHUNK):
            chunk = explain(pipeline, texts[start : start + CHUNK], labels, method, steps)
            for row, explanation in enumerate(chunk, start):
                handle.write(json.dumps({"row": row, **explanation.to_dict()}) + "\n")
            explanations += chunk if html_path is not None else []
            bar.update(len(chunk))
    if html_path is not None:
        write_page(html_path, texts, explanations, f"explanations of {Path(input_path).name}")
    return len(texts)
