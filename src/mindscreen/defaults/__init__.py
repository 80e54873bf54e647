"""Defaults from the data: a profile of the run's data picks the settings the user left open.

- :mod:`~mindscreen.defaults.rules`: the rules, each ``(profile, config) -> (key, value, reason)``,
  and the dotted keys they set.
- :mod:`~mindscreen.defaults.resolve`: which keys are the user's, applying the rules, logging and
  saving the choices (``profile.json``), and the annotated config ``mindscreen config`` prints.

``defaults_from_data=false`` switches the rules off (the plain library defaults, for ablations).
"""

from mindscreen.defaults.resolve import (
    Decision,
    Resolved,
    apply_rules,
    describe_config,
    explicit_keys,
    resolve_config,
    resolve_from_data,
)
from mindscreen.defaults.rules import RULES, Choice

__all__ = [
    "RULES",
    "Choice",
    "Decision",
    "Resolved",
    "apply_rules",
    "describe_config",
    "explicit_keys",
    "resolve_config",
    "resolve_from_data",
]
