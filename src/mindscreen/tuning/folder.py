"""The study folder: one per study, never shared by two.

The default folder is ``<output_dir>-tune`` for a study named after the config (the default name) and
``<output_dir>-tune-<study>`` for any other ``--study`` name. ``study.json`` in the folder records which
study it holds: its name, its storage (a file storage by absolute path, a server URL without its
password) and the study's id in that storage. A search writes into a folder only when

- the folder is new or empty, or
- it holds the outputs of this very study, resumed or joined (same name, same storage, same id).

Anything else (another storage, another name, a study in memory, which cannot be resumed, or files
without ``study.json``) is refused before the study is opened, so ``best.yaml``, ``trials.csv``,
``summary.json`` and ``trials/`` never mix two studies. ``overwrite`` removes the old outputs first (the
study in its storage, and a trained ``best/`` run, are kept).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from mindscreen.config import RunConfig
from mindscreen.tuning.objective import TRIALS_DIR
from mindscreen.tuning.outputs import BEST_CONFIG, HISTORY, IMPORTANCES, SUMMARY, TRIALS_CSV
from mindscreen.tuning.space import SpaceError
from mindscreen.tuning.study import JOURNAL_SUFFIXES

STUDY_FILE = "study.json"
MEMORY = "in memory"
# What a search writes into its folder: what overwrite removes.
OUTPUTS = (BEST_CONFIG, TRIALS_CSV, IMPORTANCES, HISTORY, SUMMARY, STUDY_FILE)


class StudyFolderError(SpaceError):
    """A study folder that holds another study's outputs."""


def default_study_dir(base: RunConfig, name: str) -> Path:
    """``<output_dir>-tune`` for the config's own name, else ``<output_dir>-tune-<name>``."""
    if name == base.name:
        return Path(f"{base.output_dir}-tune")
    return Path(f"{base.output_dir}-tune-{re.sub(r'[^A-Za-z0-9._-]+', '-', name).strip('-') or 'study'}")


def storage_identity(url: str | None) -> str:
    """The storage as recorded in ``study.json``: comparable from any working directory, no password."""
    if url is None or url in ("", ":memory:"):
        return MEMORY
    if "://" not in url:
        kind = "journal" if url.endswith(JOURNAL_SUFFIXES) else "sqlite"
        return f"{kind}:///{os.path.abspath(url)}"
    if url.startswith("sqlite:///"):
        return f"sqlite:///{os.path.abspath(url[len('sqlite:///') :])}"
    from sqlalchemy.engine import make_url

    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        url = f"postgresql+psycopg://{rest}"
    return make_url(url).render_as_string(hide_password=True)


def claim_study_dir(study_dir: Path, name: str, storage: str | None, overwrite: bool) -> dict[str, Any]:
    """Make sure ``study_dir`` may take the outputs of study ``name`` in ``storage``; create it.

    Returns:
        The study's identity (``study``, ``storage``), for :func:`record_study` once it is open.

    Raises:
        StudyFolderError: the folder holds another study's outputs, or files of no known study.
    """
    identity = {"study": name, "storage": storage_identity(storage)}
    found = read_study(study_dir)
    if overwrite:
        remove_outputs(study_dir)
    elif found is not None:
        same = {key: found.get(key) for key in identity} == identity
        if not same or identity["storage"] == MEMORY:
            held = f"study {found.get('study')!r} ({found.get('storage')})"
            this = f"this is study {name!r} ({identity['storage']})"
            why = "a study in memory cannot be resumed" if same else this
            raise StudyFolderError(f"{study_dir} holds the outputs of {held}; {why}. {_FIX}")
    elif study_dir.is_dir() and any(study_dir.iterdir()):
        raise StudyFolderError(f"{study_dir} is not empty and holds no {STUDY_FILE}. {_FIX}")
    study_dir.mkdir(parents=True, exist_ok=True)
    return identity


_FIX = (
    "Resume a study with the same --storage and --study; or give this one its own folder (--study NAME "
    "or --output DIR); or pass --overwrite to replace these outputs"
)


def record_study(study_dir: Path, identity: dict[str, Any], study_id: int | None) -> None:
    """Write ``study.json``; refuse when the storage holds a new study of the recorded name."""
    found = read_study(study_dir)
    if found is not None and study_id is not None and found.get("study_id") not in (None, study_id):
        raise StudyFolderError(
            f"{study_dir} holds the outputs of an earlier study {identity['study']!r} in "
            f"{identity['storage']} (id {found['study_id']}), which was since created again (id {study_id}). "
            f"{_FIX}"
        )
    (study_dir / STUDY_FILE).write_text(json.dumps({**identity, "study_id": study_id}, indent=2) + "\n")


def read_study(study_dir: Path) -> dict[str, Any] | None:
    path = study_dir / STUDY_FILE
    if not path.is_file():
        return None
    found: dict[str, Any] = json.loads(path.read_text())
    return found


def remove_outputs(study_dir: Path) -> None:
    """Remove what a search wrote into ``study_dir``; other files (e.g. a trained ``best/``) stay."""
    for name in OUTPUTS:
        (study_dir / name).unlink(missing_ok=True)
    shutil.rmtree(study_dir / TRIALS_DIR, ignore_errors=True)
