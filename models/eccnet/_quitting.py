"""A quitting rule for eccNET: when the search gives up and answers "absent".

eccNET (Gupta et al. 2021) fixates items in the order of its attention map until the target is fixated; it
has no way to end a target-absent trial. The rule added here is Competitive Guided Search's quit unit (Moran
et al. 2013) on eccNET's fixation sequence: after the ``k``-th fixation lands on a non-target the search quits
with probability

    p_k = w_k / (w_k + r_k),   w_k = q0 + dq * k,   r_k = max(N - k, 0),

where ``N`` is the number of items and ``r_k`` the items not yet fixated (every fixation inspects one item:
the search fixates only cells holding an item). The quit weight grows with what has been inspected; with
nothing left (``r_N = 0``) the search always quits. Quitting answers "absent": on a target-present trial
whose target eccNET would fixate at fixation ``f`` it is a miss when the search quits at any ``k < f``. Two
parameters, ``q0 >= 0`` and ``dq >= 0``. Fixations map to RT by eccNET's published line
(:func:`cogsim.models.eccnet.rt_ms`).

Example:
  >>> import jax, numpy as np
  >>> rule = QuitRule(q0=0.5, dq=0.2)
  >>> out = simulate_quitting(rule, np.array([0, 0, 2]), np.array([3, 18, 6]), key=jax.random.key(0))
  >>> bool((out["n_fixations"][:2] >= 1).all()), out["n_fixations"].tolist()[0] <= 3
  (True, True)
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np
import scipy.optimize
from jaxtyping import ArrayLike, Int

from cogsim.errors import CogsimError


class QuitRule(NamedTuple):
    """The two parameters of the quitting rule (see the module docstring)."""

    q0: float
    dq: float


def quit_probabilities(rule: QuitRule, n_items: Int[ArrayLike, " t"], k_max: int | None = None) -> np.ndarray:
    """``[t, k_max]`` probability of quitting after the ``k``-th fixation (column ``k - 1``) if it missed.

    Example:
      >>> quit_probabilities(QuitRule(1.0, 0.0), [2]).round(3).tolist()
      [[0.5, 1.0]]
    """
    n = np.asarray(n_items, float).ravel()
    if rule.q0 < 0 or rule.dq < 0 or not np.isfinite([rule.q0, rule.dq]).all():
        raise CogsimError(f"QuitRule: got q0={rule.q0}, dq={rule.dq}; allowed: finite values >= 0")
    if n.size and n.min() < 1:
        raise CogsimError(f"n_items: got {int(n.min())}; allowed: >= 1")
    k_max = int(n.max(initial=1)) if k_max is None else int(k_max)
    k = np.arange(1, k_max + 1, dtype=float)[None, :]
    w = rule.q0 + rule.dq * k
    r = np.maximum(n[:, None] - k, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(r > 0, w / (w + r), 1.0)
    return p


def outcome_moments(
    rule: QuitRule, found_at: Int[ArrayLike, " t"], n_items: Int[ArrayLike, " t"]
) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-trial ``(P(target found), E[fixations])``; ``found_at`` is 0 on target-absent trials.

    Example:
      >>> hit, n = outcome_moments(QuitRule(0.0, 0.0), [0, 2], [3, 3])
      >>> hit.tolist(), n.tolist()
      ([0.0, 1.0], [3.0, 2.0])
    """
    f = np.asarray(found_at, int).ravel()
    p = quit_probabilities(rule, n_items)
    k = np.arange(1, p.shape[1] + 1)
    survive = np.cumprod(1 - p, axis=1)  # S_k: no quit after fixations 1..k
    before = np.concatenate([np.ones((len(p), 1)), survive[:, :-1]], axis=1)  # S_{k-1}
    quit_at = before * p  # P(quit right after fixation k)
    absent = f <= 0
    stop = np.where(absent[:, None], True, k[None, :] < f[:, None])  # quitting that ends the trial first
    hit = np.where(absent, 0.0, before[np.arange(len(f)), np.clip(f - 1, 0, p.shape[1] - 1)])
    n = (quit_at * k * stop).sum(1) + hit * np.maximum(f, 0)
    return hit, n


def simulate_quitting(
    rule: QuitRule, found_at: Int[ArrayLike, " t"], n_items: Int[ArrayLike, " t"], *, key: jax.Array
) -> dict[str, np.ndarray]:
    """Samples each trial's end: ``found`` (the target was fixated before quitting) and ``n_fixations``.

    Args:
      rule: the two parameters.
      found_at: fixation (1-based) at which eccNET fixates the target; 0 on target-absent trials.
      n_items: items per display.
      key: JAX key of the quit draws.

    Example:
      >>> import jax
      >>> out = simulate_quitting(QuitRule(0.0, 0.0), [0, 3], [4, 4], key=jax.random.key(0))
      >>> out["found"].tolist(), out["n_fixations"].tolist()
      ([False, True], [4, 3])
    """
    f = np.asarray(found_at, int).ravel()
    p = quit_probabilities(rule, n_items)
    u = np.asarray(jax.random.uniform(key, p.shape))
    quits = u < p
    first = np.argmax(quits, axis=1) + 1  # a quit always happens by fixation N (p_N = 1)
    found = (f > 0) & (first >= f)
    return {"found": found, "n_fixations": np.where(found, f, first)}


def fit_quit_rule(
    found_at: Int[ArrayLike, " p"],
    n_present: Int[ArrayLike, " p"],
    absent_set_sizes: Int[ArrayLike, " s"],
    *,
    mean_absent_fixations: float,
    miss_rate: float,
    fix_scale: float = 100.0 / 252.359,
    miss_scale: float = 0.01,
) -> QuitRule:
    """The rule whose expected mean target-absent fixation count and miss rate are closest to the targets.

    Each set size counts equally: the absent mean is over ``absent_set_sizes``; the miss rate is the mean over
    set sizes of the mean over that set size's target-present displays. The loss is
    ``(dfix / fix_scale)**2 + (dmiss / miss_scale)**2`` (by default 100 ms of RT, 0.4 fixations, weighs as
    much as one percentage point of misses), minimised over ``log q0, log dq`` by Nelder-Mead from the best
    point of a 9 x 9 grid.

    Example:
      >>> rule = fit_quit_rule([1, 1, 2, 5], [3, 3, 6, 6], [3, 6], mean_absent_fixations=3.0, miss_rate=0.1)
      >>> isinstance(rule, QuitRule)
      True
    """
    f = np.asarray(found_at, int).ravel()
    npres = np.asarray(n_present, int).ravel()
    sizes = np.unique(np.asarray(absent_set_sizes, int))
    groups = [npres == s for s in np.unique(npres)]

    def moments(theta):
        rule = QuitRule(*np.exp(theta))
        _, n_abs = outcome_moments(rule, np.zeros(len(sizes), int), sizes)
        hit, _ = outcome_moments(rule, f, npres)
        miss = np.mean([1 - hit[g].mean() for g in groups]) if groups else 0.0
        return float(n_abs.mean()), float(miss)

    def loss(theta):
        fx, miss = moments(theta)
        return ((fx - mean_absent_fixations) / fix_scale) ** 2 + ((miss - miss_rate) / miss_scale) ** 2

    grid = np.linspace(-6.0, 4.0, 9)
    start = min(((a, b) for a in grid for b in grid), key=lambda t: loss(np.asarray(t)))
    res = scipy.optimize.minimize(loss, np.asarray(start), method="Nelder-Mead",
                                  options={"xatol": 1e-4, "fatol": 1e-8, "maxiter": 2000})  # fmt: skip
    return QuitRule(*(float(v) for v in np.exp(res.x)))
