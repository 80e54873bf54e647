"""The search space: a YAML file keyed by the run config's dotted paths.

::

    space:
      train.lr: {type: float, low: 1.0e-5, high: 3.0e-4, log: true}
      model.head_blocks: {type: int, low: 0, high: 2}
      model.pooling: {type: categorical, choices: [mean, cls, attention]}
    n_trials: 20
    timeout: 3600
    sampler: {seed: 0}
    pruner: median

Each key is checked with the same code as ``key=value`` overrides
(:func:`mindscreen.config.set_dotted`), and every bound and choice is validated as a
run config before the first trial, so a typo or an impossible value fails at once.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mindscreen.config import ConfigError, RunConfig, set_dotted, validate_config

if TYPE_CHECKING:
    import optuna

# Keys a trial may not change: they name the objective and where runs go.
FIXED_KEYS = ("name", "output_dir", "train.metric")


class SpaceError(ConfigError):
    """A search space that cannot be searched: bad file, unknown key, impossible bound or choice."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FloatParam(_Strict):
    """A real number in ``[low, high]``; ``log`` samples its logarithm uniformly."""

    type: Literal["float"]
    low: float
    high: float
    log: bool = False
    step: float | None = Field(None, gt=0, description="Grid spacing; excludes log.")

    @model_validator(mode="after")
    def _check(self) -> FloatParam:
        _check_bounds(self.low, self.high, self.log)
        if self.log and self.step is not None:
            raise ValueError("log and step cannot be combined; drop one of them")
        return self

    def candidates(self) -> list[Any]:
        return [self.low, (self.low + self.high) / 2, self.high]


class IntParam(_Strict):
    """An integer in ``[low, high]`` (both included)."""

    type: Literal["int"]
    low: int
    high: int
    log: bool = False
    step: int = Field(1, gt=0)

    @model_validator(mode="after")
    def _check(self) -> IntParam:
        _check_bounds(self.low, self.high, self.log)
        if self.log and self.step != 1:
            raise ValueError("log needs step 1; drop step or log")
        return self

    def candidates(self) -> list[Any]:
        return [self.low, self.high]


class CategoricalParam(_Strict):
    """One of a list of plain values (strings, numbers, booleans, null)."""

    type: Literal["categorical"]
    choices: list[Any]

    @field_validator("choices")
    @classmethod
    def _plain_choices(cls, choices: list[Any]) -> list[Any]:
        if not choices:
            raise ValueError("choices is empty; list at least one value")
        for choice in choices:
            if choice is not None and not isinstance(choice, str | int | float | bool):
                raise ValueError(
                    f"choice {choice!r} is a {type(choice).__name__}; use str, number, bool or null"
                )
        return choices

    def candidates(self) -> list[Any]:
        return list(self.choices)


Param = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="type")]


class SamplerSpec(_Strict):
    """The TPE sampler (Bergstra et al. 2011)."""

    seed: int | None = Field(0, description="Seed of the sampler; null: different every run.")
    n_startup_trials: int = Field(10, ge=0, description="Random trials before TPE takes over.")


class PrunerSpec(_Strict):
    """Stops unpromising trials early, from the dev metric at each evaluation."""

    type: Literal["median", "hyperband", "none"] = "median"
    n_startup_trials: int = Field(5, ge=0, description="median: trials that are never pruned.")
    n_warmup_steps: int = Field(0, ge=0, description="median: evaluations before a trial may be pruned.")
    min_resource: int = Field(1, ge=1, description="hyperband: evaluations every trial gets.")
    reduction_factor: int = Field(3, ge=2, description="hyperband: 1/factor of trials survive a rung.")


class SearchSpace(_Strict):
    """A whole search-space file."""

    space: dict[str, Param] = Field(min_length=1)
    n_trials: int | None = Field(20, gt=0, description="Trials in the study, shared by all workers.")
    timeout: float | None = Field(None, gt=0, description="Seconds each process searches for.")
    sampler: SamplerSpec = Field(default_factory=SamplerSpec)
    pruner: PrunerSpec = Field(default_factory=PrunerSpec)

    @field_validator("pruner", mode="before")
    @classmethod
    def _pruner_by_name(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value


def _check_bounds(low: float, high: float, log: bool) -> None:
    if low > high:
        raise ValueError(f"low {low} is greater than high {high}; swap them")
    if log and low <= 0:
        raise ValueError(f"log scale needs low > 0, found low {low}; raise low or set log: false")


def load_space(path: str | Path) -> SearchSpace:
    """Read and validate a search-space YAML file (the keys are checked by :func:`check_space`)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise SpaceError(f"cannot read search space {path}: {err}") from err
    if not isinstance(raw, dict):
        raise SpaceError(f"search space {path} must be a mapping with a 'space' key, found {raw!r:.40}")
    return parse_space(raw, source=str(path))


def parse_space(raw: dict[str, Any], source: str = "search space") -> SearchSpace:
    """Validate a plain dict as a :class:`SearchSpace`; errors name the offending key."""
    try:
        return SearchSpace.model_validate(raw)
    except ValidationError as err:
        lines = [f"{source}: invalid search space"]
        for problem in err.errors():
            loc = [str(part) for part in problem["loc"]]
            if len(loc) >= 3 and loc[0] == "space" and loc[2] in ("float", "int", "categorical"):
                del loc[2]  # the discriminator tag pydantic inserts
            if len(loc) >= 2 and loc[0] == "space":
                loc = [f"space[{loc[1]}]", *loc[2:]]
            lines.append(f"  {'.'.join(loc)}: {problem['msg']}")
        raise SpaceError("\n".join(lines)) from None


def check_space(space: SearchSpace, base: RunConfig) -> None:
    """Check every key exists in the run config and every bound and choice makes a valid config.

    Raises:
        SpaceError: naming the key, the value and what the config accepts.
    """
    raw = base.model_dump(mode="json")
    for key, param in space.space.items():
        if key in FIXED_KEYS:
            raise SpaceError(
                f"search space key {key!r} cannot be searched; fixed keys: {', '.join(FIXED_KEYS)}"
            )
        for value in param.candidates():
            trial_raw = copy.deepcopy(raw)
            try:
                set_dotted(trial_raw, key, value)
            except ConfigError as err:
                raise SpaceError(f"search space: {err}") from None
            try:
                validate_config(trial_raw, source=f"search space {key}={value!r}")
            except ConfigError as err:
                raise SpaceError(f"{err}\nfix the bounds or choices of {key!r}") from None


def suggest_params(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Draw one value per key from ``trial``; parameter names are the dotted keys."""
    params: dict[str, Any] = {}
    for key, p in space.space.items():
        if isinstance(p, FloatParam):
            params[key] = trial.suggest_float(key, p.low, p.high, log=p.log, step=p.step)
        elif isinstance(p, IntParam):
            params[key] = trial.suggest_int(key, p.low, p.high, log=p.log, step=p.step)
        else:
            params[key] = trial.suggest_categorical(key, p.choices)
    return params


def apply_params(base: RunConfig, params: dict[str, Any], output_dir: str | Path) -> RunConfig:
    """The base config with ``params`` set at their dotted keys and runs written to ``output_dir``."""
    raw = base.model_dump(mode="json")
    for key, value in params.items():
        set_dotted(raw, key, value)
    raw["output_dir"] = str(output_dir)
    return validate_config(raw, source="trial config")
