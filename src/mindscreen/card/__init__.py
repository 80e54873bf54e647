"""Model cards: a ``README.md`` in the Hugging Face model-card layout, generated from a model directory.

- :mod:`~mindscreen.card.markdown`: front matter, tables and the sections every card shares (intended
  and out-of-scope use, limits of the evaluation).
- :mod:`~mindscreen.card.run`: the card of a run directory (:func:`write_run_card`), written at the
  end of ``train``.
- :mod:`~mindscreen.card.sections`: per-class metrics and calibration, shared by run and ensemble cards.
- :mod:`~mindscreen.card.composite`: the cards of ensembles and pipelines.
- :mod:`~mindscreen.card.slices`: dev metrics on slices (long texts) that the card reports as failure modes.

Cards are built from the directory's JSON files only (profile, metrics, thresholds, calibration), so
they never hold a text.
"""

from mindscreen.card.composite import write_card, write_ensemble_card, write_pipeline_card
from mindscreen.card.markdown import CARD_FILE, read_front_matter
from mindscreen.card.run import write_run_card
from mindscreen.card.slices import length_slices

__all__ = [
    "CARD_FILE",
    "length_slices",
    "read_front_matter",
    "write_card",
    "write_ensemble_card",
    "write_pipeline_card",
    "write_run_card",
]
