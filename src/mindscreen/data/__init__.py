"""The data layer: labelled texts from CSV, TSV, JSON lines or Parquet files.

- :mod:`~mindscreen.data.readers`: tables on disk, chosen by extension; texts to predict on.
- :mod:`~mindscreen.data.labels`: single labels, label lists, delimited strings and 0/1
  columns, all encoded as one (N, C) float32 0/1 matrix.
- :mod:`~mindscreen.data.stratify`: the seeded, stratified split of a file into train/dev/test.
- :mod:`~mindscreen.data.splits`: finding the files of a run and reading them as :class:`Splits`.
- :mod:`~mindscreen.data.quality`: duplicates and near-empty texts, warned about with counts.
- :mod:`~mindscreen.data.texts`: valid Unicode, and the character limit of batch commands.

Every input problem raises :class:`DataError`, naming the file and the row (data rows
counted from 1, header not counted) but never the text of a row.
"""

from mindscreen.data.errors import DataError, DataQualityWarning, DuplicateTextWarning
from mindscreen.data.readers import read_texts, write_table
from mindscreen.data.splits import Split, Splits, load_labelled_file, load_splits, resolve_data_dir
from mindscreen.data.texts import MAX_CHARS, cut_texts, has_lone_surrogate, warn_cut

__all__ = [
    "MAX_CHARS",
    "DataError",
    "DataQualityWarning",
    "DuplicateTextWarning",
    "Split",
    "Splits",
    "cut_texts",
    "has_lone_surrogate",
    "load_labelled_file",
    "load_splits",
    "read_texts",
    "resolve_data_dir",
    "warn_cut",
    "write_table",
]
