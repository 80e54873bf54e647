"""Start-up: load the model, check the audit log, classify a warm-up text; only then ready.

The self-check classifies one fixed, harmless text through the whole pipeline and builds the
response a request would get. A model directory that loads but cannot classify (thresholds of the
wrong length, a calibration temperature of 0, a broken tokenizer) thus stops the service before
``/readyz`` says ready, with a message naming the problem, instead of answering 500 to every request.
It also warms the model up, so the first request is not the slow one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from mindscreen.pipeline import Pipeline, load_pipeline
from mindscreen.serving.schemas import ClassifyResponse, TextResult
from mindscreen.serving.state import ServiceState

logger = logging.getLogger("mindscreen.serving")

WARM_UP_TEXTS = ["I had a long day at work and I am going to bed early tonight."]


class StartupError(ValueError):
    """The service cannot serve what it was given; raised before it reports ready."""


def start(state: ServiceState, load: Callable[[], Pipeline] | None) -> Pipeline:
    """Check the audit log, load the pipeline and self-check it; :class:`StartupError` on any failure.

    Args:
        state: the app's state (settings, audit log); ``startup_error`` is set on failure.
        load: builds the pipeline; default :func:`~mindscreen.pipeline.load_pipeline` of the model path.
    """
    started = time.monotonic()
    where = str(state.settings.model_path or "the model")
    try:
        if state.audit is not None:
            state.audit.check()
        if load is not None:
            pipeline = load()
        else:
            settings = state.settings
            pipeline = load_pipeline(
                Path(where),
                allow_failed_int8=settings.allow_failed_int8,
                precision=settings.precision,
                runtime=settings.runtime,
            )
        self_check(pipeline, where)
    except Exception as err:
        state.startup_error = (
            str(err) if isinstance(err, ValueError | OSError) else f"{type(err).__name__}: {err}"
        )
        logger.error("start-up failed, not serving: %s", state.startup_error)
        logger.debug("start-up failure", exc_info=err)
        raise StartupError(state.startup_error) from None
    variant = state.metrics.observe_model(pipeline.model)
    logger.info(
        "model %s (%s, check %s) ready in %.1f s",
        pipeline.version,
        variant["variant"],
        variant["check"],
        time.monotonic() - started,
    )
    return pipeline


def self_check(pipeline: Pipeline, where: str) -> None:
    """Classify :data:`WARM_UP_TEXTS` and build the response; StartupError unless it all works.

    Args:
        pipeline: the loaded pipeline.
        where: what was loaded, for the message.
    """
    try:
        results = pipeline.classify(list(WARM_UP_TEXTS))
        ClassifyResponse(
            model_version=pipeline.version, results=[TextResult.model_validate(r.to_dict()) for r in results]
        )
    except Exception as err:
        raise StartupError(
            f"{where} loads but cannot classify: the start-up self-check on a fixed warm-up text raised "
            f"{type(err).__name__}: {err}. Check the directory's files (thresholds.json, calibration.json, "
            "encoder/) against the run it came from, or retrain"
        ) from err
    # NaN fails the comparison too.
    bad = sorted({label for r in results for label, p in r.probabilities.items() if not 0 <= p <= 1})
    if bad or len(results) != len(WARM_UP_TEXTS):
        raise StartupError(
            f"{where} loads but gives invalid results on a fixed warm-up text: expected one result with "
            f"probabilities in [0, 1], found {len(results)} result(s) with NaN or out-of-range "
            f"probabilities for {bad}. Check calibration.json (a temperature of 0?) and thresholds.json, "
            "or retrain"
        )
