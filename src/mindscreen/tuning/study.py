"""The Optuna study: storage, sampler, pruner, direction, and the trial budget shared by workers.

Storage is chosen from one string:

- ``None``: in memory, gone when the process ends;
- a path ending ``.db``, ``.sqlite`` or ``.sqlite3``, or a ``sqlite:///`` URL: one SQLite file;
- a path ending ``.log`` or ``.journal``: an Optuna journal file;
- any other SQLAlchemy URL (``postgresql+psycopg://user@host/db``): a database server that workers on
  several machines share. A plain ``postgresql://`` URL is given the installed psycopg 3 driver.
  Workers started together on a fresh PostgreSQL database take turns creating Optuna's tables (an
  advisory lock), since concurrent ``CREATE TABLE``s fail there.

A process killed mid-trial leaves that trial RUNNING. With a file storage (one machine) the next process
sees the dead process id and marks the trial failed; with a server it is failed once its heartbeat goes
stale. Either way its parameters are queued again, so a resumed study retries the interrupted trial.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
import warnings
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import optuna
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from mindscreen.scores import check_metric
from mindscreen.tuning.space import PrunerSpec, SamplerSpec, SpaceError

logger = logging.getLogger(__name__)

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
JOURNAL_SUFFIXES = (".log", ".journal")
# A worker on a database server beats every HEARTBEAT s; silent for GRACE s, its trial is failed.
HEARTBEAT, GRACE = 30, 120
# PostgreSQL advisory lock held while a worker opens the storage (and may create Optuna's tables).
SCHEMA_LOCK = zlib.crc32(b"mindscreen optuna schema")


# This process, as recorded on each of its trials (user attr "worker").
WORKER = {"host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex[:12]}


def direction_of(metric: str) -> str:
    """``"maximize"``: every primary metric (:data:`~mindscreen.scores.METRICS`) is higher-is-better."""
    check_metric(metric)
    return "maximize"


class StorageError(ValueError):
    """A ``--storage`` value that names no usable study storage."""


def build_storage(url: str | None) -> optuna.storages.BaseStorage | None:
    """The Optuna storage named by ``url`` (see the module docstring); ``None`` keeps it in memory.

    Raises:
        StorageError: an unknown kind of storage, or one that cannot be opened (the password hidden).
    """
    if url is None or url in ("", ":memory:"):
        return None
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return _open_storage(url)
    except (ImportError, SQLAlchemyError, OSError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
        raise StorageError(
            f"cannot open storage {describe_storage(url)}: {reason}; check the path or URL, "
            "that the database server runs and that the database exists"
        ) from None


def _open_storage(url: str) -> optuna.storages.BaseStorage:
    if "://" not in url:
        if url.endswith(SQLITE_SUFFIXES):
            return RDBStorage(f"sqlite:///{os.path.abspath(url)}")
        if url.endswith(JOURNAL_SUFFIXES):
            return JournalStorage(JournalFileBackend(os.path.abspath(url)))
        raise StorageError(
            f"storage {url!r} is neither a URL nor a file ending in "
            f"{', '.join(SQLITE_SUFFIXES + JOURNAL_SUFFIXES)}; pass e.g. study.db, study.log "
            "or postgresql+psycopg://user@host/db"
        )
    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        url = f"postgresql+psycopg://{rest}"
    if url.startswith("sqlite"):
        return RDBStorage(url)
    with warnings.catch_warnings(), _schema_lock(url):
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RDBStorage(
            url,
            engine_kwargs={"pool_pre_ping": True},
            heartbeat_interval=HEARTBEAT,
            grace_period=GRACE,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
        )


@contextmanager
def _schema_lock(url: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock meanwhile (other servers: nothing).

    Without it, workers started at once on a fresh database all see no tables, all create them, and
    all but one fail (seen: UniqueViolation on "pg_type_typname_nsp_index").
    """
    if not url.startswith("postgresql"):
        yield
        return
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    engine = sqlalchemy.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:  # closing the connection releases the lock
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK})
            yield
    finally:
        engine.dispose()


def describe_storage(url: str | None) -> str:
    """The storage for logs, its password hidden."""
    if not url:
        return "in memory"
    if "://" in url:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    return url


def is_local_storage(storage: object) -> bool:
    """A storage that lives in one file on this machine (SQLite or journal)."""
    if isinstance(storage, JournalStorage):
        return True
    return isinstance(storage, RDBStorage) and storage.url.startswith("sqlite")


def build_sampler(spec: SamplerSpec, salt: int) -> optuna.samplers.TPESampler:
    """A TPE sampler seeded from ``(spec.seed, salt)``.

    The tuner builds one per trial with ``salt`` = trials already in the study, so one process is
    reproducible, a resumed study draws new points and workers sharing a study do not repeat each other.
    """
    seed = None if spec.seed is None else int(np.random.SeedSequence([spec.seed, salt]).generate_state(1)[0])
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=spec.n_startup_trials)


def build_pruner(spec: PrunerSpec) -> optuna.pruners.BasePruner:
    """The pruner; its steps are evaluations (1, 2, ...) of the dev set during a trial."""
    if spec.type == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=spec.n_startup_trials, n_warmup_steps=spec.n_warmup_steps
        )
    if spec.type == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=spec.min_resource, reduction_factor=spec.reduction_factor
        )
    return optuna.pruners.NopPruner()


def open_study(
    storage: str | optuna.storages.BaseStorage | None,
    name: str,
    direction: str,
    sampler: SamplerSpec,
    pruner: PrunerSpec,
    metric: str | None = None,
) -> optuna.Study:
    """Create the study, or join it when one of that name exists (its direction must agree).

    ``metric`` (``train.metric``) names the objective for dashboards: ``dev_<metric>``, as in trials.csv.
    """
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction=direction,  # type: ignore[arg-type]
        sampler=build_sampler(sampler, 0),
        pruner=build_pruner(pruner),
        load_if_exists=True,
    )
    found = study.direction.name.lower()
    if found != direction:
        raise SpaceError(
            f"study {name!r} already exists and was created to {found}, but train.metric asks to "
            f"{direction}; pick another --study name"
        )
    if metric is not None and study.metric_names != [f"dev_{metric}"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([f"dev_{metric}"])
    return study


def counts_toward_budget(trial: FrozenTrial) -> bool:
    """Whether a trial uses one of the study's ``n_trials``.

    Waiting, running, complete and pruned trials do, and so do trials that failed on their own (out of
    memory, NaN loss; they carry an ``error``). Trials interrupted by a killed process and trials skipped
    because the budget was already used do not: a resumed study makes up for them.
    """
    if trial.state == TrialState.FAIL:
        return "error" in trial.user_attrs
    return True


def budget_used(trials: Sequence[FrozenTrial]) -> int:
    return sum(counts_toward_budget(t) for t in trials)


def recover_interrupted(study: optuna.Study, storage: object) -> int:
    """Fail the RUNNING trials that a dead process on this machine left behind, and queue them again.

    Only for file storages: on a database server, heartbeats do this across machines.
    Returns how many trials were recovered.
    """
    if not is_local_storage(storage):
        return 0
    recovered = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker: dict[str, Any] = trial.user_attrs.get("worker") or {}
        if worker.get("host") != WORKER["host"] or worker.get("token") == WORKER["token"]:
            continue
        if worker.get("pid") != WORKER["pid"] and _process_alive(int(worker.get("pid", -1))):
            continue
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})  # same draws, if any
        logger.warning(
            "trial %d was interrupted (process %s is gone); queued it again", trial.number, worker.get("pid")
        )
        recovered += 1
    return recovered


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def finished(trials: Sequence[FrozenTrial]) -> int:
    """Trials of the budget that are done (complete, pruned, or failed on their own)."""
    done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return sum(t.state in done and counts_toward_budget(t) for t in trials)
