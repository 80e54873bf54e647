"""The multistage triage pipeline: a fast screen and crisis lexicon, a transformer, recall floors.

- :mod:`~mindscreen.pipeline.spec`: the YAML spec (``examples/pipeline.yaml``).
- :mod:`~mindscreen.pipeline.lexicon`: crisis-phrase matching.
- :mod:`~mindscreen.pipeline.decisions`: the decisions record and its rules (routing, labels, review
  flags, risk levels) as array functions.
- :mod:`~mindscreen.pipeline.stages`: the stages in order (lexicon, screen, model), one call signature.
- :mod:`~mindscreen.pipeline.floors`: critical-label thresholds for a recall floor, the stage-1 cutoff.
- :mod:`~mindscreen.pipeline.pipeline`: :class:`Pipeline` and its per-text :class:`Result`.
- :mod:`~mindscreen.pipeline.fitting`: :func:`fit_pipeline` writes a pipeline directory with a report.
- :mod:`~mindscreen.pipeline.store`: that directory, and :func:`load_pipeline` for any model directory.
- :mod:`~mindscreen.pipeline.batch`: :func:`predict_table` runs a pipeline over a file.
"""

from mindscreen.pipeline.batch import predict_table
from mindscreen.pipeline.decisions import REVIEW_REASONS, RISK_LEVELS, Decisions, Policy
from mindscreen.pipeline.fitting import build_pipeline, fit_pipeline
from mindscreen.pipeline.lexicon import Lexicon
from mindscreen.pipeline.pipeline import Pipeline, Result
from mindscreen.pipeline.spec import PipelineSpec, load_spec
from mindscreen.pipeline.stages import STAGE_TYPES, STAGES, Stage
from mindscreen.pipeline.store import is_pipeline_dir, load_pipeline

__all__ = [
    "REVIEW_REASONS",
    "RISK_LEVELS",
    "STAGES",
    "STAGE_TYPES",
    "Stage",
    "Decisions",
    "Lexicon",
    "Pipeline",
    "PipelineSpec",
    "Policy",
    "Result",
    "build_pipeline",
    "fit_pipeline",
    "is_pipeline_dir",
    "load_pipeline",
    "load_spec",
    "predict_table",
]
