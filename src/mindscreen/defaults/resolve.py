"""Applying the rules: profile the data, fill in the keys the user left open, say why.

A key is the user's when the config file or a ``key=value`` override set it (pydantic's
``model_fields_set`` at every level of the config tree); a rule never changes it, and the log
says what the rule would have chosen. Every choice is logged at INFO with its reason and saved,
with the profile, in the run directory's ``profile.json``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mindscreen.config import RunConfig, set_dotted, validate_config
from mindscreen.data import Splits
from mindscreen.data.profile import DataProfile, EncoderFacts, profile_splits
from mindscreen.defaults.rules import RULES, Rule, setting
from mindscreen.rundir import PROFILE_FILE

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """What happened to one rule's proposal: ``applied``, or the user's ``value`` kept."""

    key: str
    value: Any  # the value the run uses
    suggested: Any  # what the rule proposed
    reason: str
    applied: bool

    def describe(self) -> str:
        if self.applied:
            return f"{self.key} = {_show(self.value)}: {self.reason}"
        return (
            f"{self.key} = {_show(self.value)} kept as set (the data suggests {_show(self.suggested)}: "
            f"{self.reason})"
        )


@dataclass(frozen=True)
class Resolved:
    """A config with the data's choices filled in, the profile and the decisions."""

    config: RunConfig
    profile: DataProfile
    decisions: list[Decision]

    def to_dict(self) -> dict[str, Any]:
        return {
            "defaults_from_data": self.config.defaults_from_data,
            "profile": self.profile.to_dict(),
            "choices": [asdict(d) for d in self.decisions],
        }

    def comments(self) -> str:
        """YAML comment lines: the choices and the profile, to print above the config."""
        if not self.config.defaults_from_data:
            head = [
                "defaults_from_data is false: library defaults and your keys, nothing chosen from the data"
            ]
        else:
            head = [
                "Chosen from the data (keys set in a config file or override are kept; "
                "defaults_from_data=false chooses none):"
            ]
            head += [f"  {d.describe()}" for d in self.decisions]
        return "".join(f"# {line}\n" for line in [*head, f"Data: {self.profile.summary()}"])


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def explicit_keys(model: BaseModel, prefix: str = "") -> set[str]:
    """Dotted keys set explicitly (in a file, an override or the constructor) anywhere in ``model``."""
    keys: set[str] = set()
    for name in model.model_fields_set:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            keys |= explicit_keys(value, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def apply_rules(
    config: RunConfig, profile: DataProfile, rules: list[Rule] | None = None
) -> tuple[RunConfig, list[Decision]]:
    """Apply ``rules`` (default: all) in order to the keys the user did not set."""
    if not config.defaults_from_data:
        return config, []
    mine = explicit_keys(config)
    raw = config.model_dump(mode="json")
    decisions: list[Decision] = []
    for rule in RULES if rules is None else rules:
        choice = rule(profile, config)
        if choice is None:
            continue
        if choice.key in mine:
            kept = setting(config, choice.key)
            decisions.append(Decision(choice.key, kept, choice.value, choice.reason, applied=False))
            continue
        set_dotted(raw, choice.key, choice.value)
        config = validate_config(raw, source=f"the data's choice {choice.key}={choice.value!r}")
        decisions.append(Decision(choice.key, choice.value, choice.value, choice.reason, applied=True))
    return config, decisions


def resolve_from_data(
    config: RunConfig, splits: Splits, tokenizer: Any, run_dir: Path | None = None, log: bool = True
) -> Resolved:
    """Profile ``splits`` with ``tokenizer``, apply the rules, log each choice.

    Args:
        config: the config as the user gave it (file, overrides, library defaults).
        splits: the run's data.
        tokenizer: the run's tokenizer (loaded once, then handed to the model).
        run_dir: where to write ``profile.json``; None writes nothing.
        log: log the profile and each choice (INFO; a kept key the rule agrees with at DEBUG).
    """
    profile = profile_splits(splits, tokenizer, encoder_facts(config.model.encoder, tokenizer))
    resolved_config, decisions = apply_rules(config, profile)
    resolved = Resolved(resolved_config, profile, decisions)
    if log:
        logger.info("data profile: %s", profile.summary())
    for decision in decisions if log else ():
        unchanged = not decision.applied and decision.value == decision.suggested
        logger.log(logging.DEBUG if unchanged else logging.INFO, "%s", decision.describe())
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / PROFILE_FILE).write_text(json.dumps(resolved.to_dict(), indent=2) + "\n")
    return resolved


def encoder_facts(encoder: str, tokenizer: Any) -> EncoderFacts:
    """The encoder's width and the longest input it takes, from its config file (no weights)."""
    from transformers import AutoConfig

    from mindscreen.modeling import resolve_encoder, tokenizer_limit

    try:
        settings: Any = AutoConfig.from_pretrained(resolve_encoder(encoder))
    except (OSError, ValueError):
        settings = None
    width = next(
        (getattr(settings, k, None) for k in ("hidden_size", "d_model", "dim") if hasattr(settings, k)), None
    )
    limit = tokenizer_limit(tokenizer)
    positions = getattr(settings, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limit = min(limit, positions)
    return EncoderFacts(encoder, int(width) if isinstance(width, int) else None, limit)


def resolve_config(config: RunConfig) -> RunConfig:
    """``config`` with the data's choices, reading its data and tokenizer (for tuning's base config)."""
    if not config.defaults_from_data:
        return config
    from mindscreen.data import load_splits
    from mindscreen.modeling import load_tokenizer

    return resolve_from_data(config, load_splits(config.data), load_tokenizer(config.model.encoder)).config


def describe_config(path: str | Path | None, overrides: list[str]) -> str:
    """The resolved config as YAML, with the data's choices and the profile as comments above it.

    What ``mindscreen config`` prints; ``train -c`` takes it as it is. Where the data or the
    tokenizer cannot be read here, the config is printed without the data's choices and a comment
    says why.
    """
    from mindscreen.config import dump_config, load_config
    from mindscreen.data import load_splits
    from mindscreen.modeling import load_tokenizer

    config = load_config(path, overrides)
    if not config.defaults_from_data:
        return "# defaults_from_data is false: nothing chosen from the data\n" + dump_config(config)
    try:
        splits = load_splits(config.data)
        tokenizer = load_tokenizer(config.model.encoder)
    except (OSError, ValueError) as err:  # DataError is a ValueError
        lines = f"not chosen from the data, which cannot be read here: {err}".splitlines()
        return "".join(f"# {line}\n" for line in lines) + dump_config(config)
    resolved = resolve_from_data(config, splits, tokenizer, log=False)
    return resolved.comments() + dump_config(resolved.config)
