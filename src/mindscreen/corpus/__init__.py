"""Scoring a corpus (millions of texts in many files) on Ray, restartably, into Parquet parts.

- :mod:`~mindscreen.corpus.inputs`: the input files (a file, folder or glob) and their identity.
- :mod:`~mindscreen.corpus.plan`: fixed parts (file + row range, with byte ranges for text formats).
- :mod:`~mindscreen.corpus.reading`: one part's rows, read without reading the rest of the file.
- :mod:`~mindscreen.corpus.scoring`: one part scored and written atomically, bad rows marked, no text
  in any error.
- :mod:`~mindscreen.corpus.manifest`: the output folder and its manifest; what a restart skips.
- :mod:`~mindscreen.corpus.job`: :func:`predict_corpus`, the job end to end.
- :mod:`~mindscreen.corpus.ray_engine`: Ray Data's actor pool; the only module importing Ray, imported
  when a job runs.
"""

from mindscreen.corpus.job import PART_ROWS, CorpusResult, predict_corpus
from mindscreen.corpus.scoring import CorpusError, PartError
from mindscreen.corpus.settings import ClusterSettings

__all__ = ["PART_ROWS", "ClusterSettings", "CorpusError", "CorpusResult", "PartError", "predict_corpus"]
