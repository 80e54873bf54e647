"""The output folder of a corpus job and its manifest: what makes a job restartable.

::

    OUT/
      _manifest.json                      the job: model and its identity, inputs (path, size, mtime),
                                          text column, rows per part, the plan (every part's file, rows
                                          and bytes), status, and when complete the totals
      <stem>-<hash>-<start>-<stop>.parquet  one scored part (written to a temporary name, then renamed)

A part file that exists is finished. Running the same command again reads the manifest, checks that
the model, the inputs and the settings that decide the parts are unchanged (else it refuses: the
finished parts would describe other rows or another model), removes temporary files a killed run left,
and scores only the parts whose file is missing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mindscreen.corpus.inputs import InputFile
from mindscreen.corpus.plan import Part, plan_parts
from mindscreen.corpus.reading import part_path
from mindscreen.corpus.scoring import TEMP_PREFIX
from mindscreen.data import MAX_CHARS
from mindscreen.rundir import read_json, write_json

MANIFEST_FILE = "_manifest.json"
FORMAT = "mindscreen-corpus"


@dataclass(frozen=True)
class JobKey:
    """What a restarted job must share with the first run for its finished parts to stay valid."""

    model: str
    model_identity: str
    text_column: str
    part_rows: int
    inputs: tuple[InputFile, ...]
    max_chars: int = MAX_CHARS  # texts are cut to this many characters, as predict --input does

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_identity": self.model_identity,
            "text_column": self.text_column,
            "part_rows": self.part_rows,
            "inputs": [file.to_dict() for file in self.inputs],
            "max_chars": self.max_chars,
        }

    def differences(self, recorded: dict[str, Any]) -> list[str]:
        """The keys of ``recorded`` (a manifest) that differ from this job's."""
        mine = self.to_dict()
        return [key for key in mine if recorded.get(key) != mine[key]]


def model_identity(path: str | Path) -> str:
    """A hash of the files that decide a model directory's answers (a pipeline: its own files and its
    stage-2 model's)."""
    from mindscreen.pipeline.store import PIPELINE_FILE, is_pipeline_dir, model_dir_of
    from mindscreen.predictors import model_identity as predictor_identity

    path = Path(path)
    digest = hashlib.sha256()
    if is_pipeline_dir(path):
        digest.update((path / PIPELINE_FILE).read_bytes())
        path = model_dir_of(path)
    digest.update(predictor_identity(path).encode())
    return digest.hexdigest()


def open_job(output: Path, key: JobKey) -> list[Part]:
    """The job's parts: from the manifest of an earlier run of the same job, else planned now and
    recorded. Temporary files of a killed run are removed.

    Raises:
        ValueError: ``output`` holds another job (other model, inputs, text column or part size).
    """
    manifest = output / MANIFEST_FILE
    if manifest.is_file():
        recorded = read_json(manifest)
        changed = key.differences(recorded)
        if recorded.get("format") != FORMAT or changed:
            raise ValueError(
                f"{output} holds a corpus job with other {', '.join(changed) or 'settings'}; finish it with "
                "its own command and inputs, or pass a new --output"
            )
        parts = [Part.from_dict(entry) for entry in recorded["plan"]]
    else:
        output.mkdir(parents=True, exist_ok=True)
        parts = plan_parts(list(key.inputs), key.part_rows, key.text_column)
        write_manifest(output, key, parts, {"status": "running"})
    for leftover in output.glob(f"{TEMP_PREFIX}*"):
        leftover.unlink(missing_ok=True)
    return parts


def pending(output: Path, parts: list[Part]) -> list[Part]:
    """The parts without an output file yet."""
    return [part for part in parts if not part_path(output, part).is_file()]


def write_manifest(output: Path, key: JobKey, parts: list[Part], status: dict[str, Any]) -> None:
    """Write the manifest (to a temporary name, then renamed)."""
    temporary = output / f"{TEMP_PREFIX}{MANIFEST_FILE}"
    write_json(temporary, {"format": FORMAT, "version": 1, **key.to_dict(), **status, "plan": _plan(parts)})
    temporary.replace(output / MANIFEST_FILE)


def _plan(parts: list[Part]) -> list[dict[str, Any]]:
    return [{"name": part.name, **part.to_dict()} for part in parts]


def count_errors(output: Path, parts: list[Part]) -> tuple[int, int]:
    """Rows and rows with an error over every part file (read from their ``error`` column only)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rows = errors = 0
    for part in parts:
        column = pq.read_table(part_path(output, part), columns=["error"]).column("error")
        rows += len(column)
        errors += int(pc.count(column).as_py())  # non-null reasons
    return rows, errors
