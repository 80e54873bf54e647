"""Fitting how members combine: simplex weights for the primary metric.

Shapes: ``M`` members, ``N`` examples, ``C`` classes. Member probabilities are ``(M, N, C)``.

The weights are non-negative and sum to one. They are chosen to maximise the primary metric on dev, each
candidate scored after fitting its own thresholds on dev (as the ensemble's thresholds are), with dev
log-loss breaking ties, so that among weightings with the same metric the best calibrated (and the one
leaning on better members) wins. Candidates: every single member, the plain average, a regular grid on
the simplex (the finest step of ``grid_step``, 0.2, 0.25, 1/3, 0.5 with at most ``MAX_GRID`` points),
seeded Dirichlet samples and the log-loss optimum; the best is then refined by moving weight between pairs
of members in halving steps. Everything is deterministic for a given seed.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import softmax

from mindscreen.scores import score
from mindscreen.thresholds import apply_thresholds, fit_thresholds

MAX_GRID = 400
RANDOM_CANDIDATES = 32
REFINE_STEPS = 2  # halvings of the grid step tried during refinement
SEARCH_GRID = np.round(np.linspace(0.02, 0.98, 49), 6)  # multi-label thresholds tried during the search
_TOL = 1e-12
_EPS = 1e-7


def log_loss(y_true: np.ndarray, probs: np.ndarray, multi_label: bool) -> float:
    """Mean negative log-likelihood: binary per (example, class) for multi-label, categorical otherwise."""
    p = np.clip(probs, _EPS, 1 - _EPS)  # (N, C)
    truth = y_true >= 0.5
    if multi_label:
        return float(-np.mean(np.log(np.where(truth, p, 1 - p))))
    return float(-np.mean(np.log(p[truth])))


@dataclass(frozen=True)
class WeightFit:
    """Fitted weights ``(M,)`` with their dev metric (thresholds fitted on dev) and dev log-loss."""

    weights: np.ndarray
    dev_score: float
    dev_log_loss: float
    candidates: int


def fit_weights(
    member_probs: np.ndarray,
    y_true: np.ndarray,
    multi_label: bool,
    metric: str = "macro_f1",
    grid_step: float = 0.1,
    seed: int = 0,
) -> WeightFit:
    """Non-negative weights summing to one that maximise ``metric`` on dev (see the module docstring).

    Args:
        member_probs: ``(M, N, C)`` calibrated member probabilities on dev.
        y_true: ``(N, C)`` 0/1 dev labels.
        multi_label: which decision rule the thresholds are for.
        metric: the primary metric to maximise.
        grid_step: finest step of the simplex grid; refinement goes below it.
        seed: seed of the Dirichlet candidates.
    """
    num_members = member_probs.shape[0]
    cache: dict[tuple[float, ...], tuple[float, float]] = {}

    def evaluate(weights: np.ndarray) -> tuple[float, float]:
        key = tuple(np.round(weights, 10))
        if key not in cache:
            probs = np.tensordot(weights, member_probs, axes=1)  # (N, C)
            thresholds = fit_thresholds(y_true, probs, multi_label, grid=SEARCH_GRID if multi_label else None)
            predicted = apply_thresholds(probs, thresholds, multi_label)
            cache[key] = (score(y_true, predicted, metric), log_loss(y_true, probs, multi_label))
        return cache[key]

    best = np.full(num_members, 1.0 / num_members)
    best_value = evaluate(best)
    for candidate in _candidates(member_probs, y_true, multi_label, grid_step, seed):
        value = evaluate(candidate)
        if _better(value, best_value):
            best, best_value = candidate, value
    for halving in range(1, REFINE_STEPS + 1):
        step = grid_step / 2**halving
        improved = True
        while improved:
            improved = False
            for giver, taker in itertools.permutations(range(num_members), 2):
                moved = min(step, best[giver])
                if moved <= _TOL:
                    continue
                trial = best.copy()
                trial[giver] -= moved
                trial[taker] += moved
                value = evaluate(trial)
                if _better(value, best_value):
                    best, best_value, improved = trial, value, True
    weights = np.clip(best, 0.0, None)
    return WeightFit(weights / weights.sum(), best_value[0], best_value[1], len(cache))


def _better(value: tuple[float, float], best: tuple[float, float]) -> bool:
    """Higher metric wins; on a tie, lower log-loss."""
    return value[0] > best[0] + _TOL or (abs(value[0] - best[0]) <= _TOL and value[1] < best[1] - _TOL)


def _candidates(
    member_probs: np.ndarray, y_true: np.ndarray, multi_label: bool, grid_step: float, seed: int
) -> list[np.ndarray]:
    num_members = member_probs.shape[0]
    found = [np.eye(num_members)[m] for m in range(num_members)]
    for step in (grid_step, 0.2, 0.25, 1 / 3, 0.5):
        parts = max(1, round(1 / step))
        if math.comb(parts + num_members - 1, num_members - 1) <= MAX_GRID:
            found.extend(_simplex_grid(num_members, parts))
            break
    rng = np.random.default_rng(seed)
    found.extend(rng.dirichlet(np.ones(num_members), size=RANDOM_CANDIDATES))
    found.append(_log_loss_weights(member_probs, y_true, multi_label))
    return found


def _simplex_grid(num_members: int, parts: int) -> list[np.ndarray]:
    """Every weight vector whose entries are multiples of ``1 / parts`` (stars and bars)."""
    points = []
    for bars in itertools.combinations(range(parts + num_members - 1), num_members - 1):
        edges = np.array([-1, *bars, parts + num_members - 1])
        points.append((np.diff(edges) - 1) / parts)
    return points


def _log_loss_weights(member_probs: np.ndarray, y_true: np.ndarray, multi_label: bool) -> np.ndarray:
    """Weights minimising dev log-loss of the weighted average (a smooth stand-in for the metric)."""
    num_members = member_probs.shape[0]

    def objective(logits: np.ndarray) -> float:
        return log_loss(y_true, np.tensordot(softmax(logits), member_probs, axes=1), multi_label)

    result = minimize(
        objective, np.zeros(num_members), method="Powell", options={"xtol": 1e-3, "maxiter": 2000}
    )
    return np.asarray(softmax(result.x))
