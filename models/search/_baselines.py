"""Baselines for search RTs: serial self-terminating search and an unlimited-capacity parallel model.

- :class:`SerialSelfTerminating`: on a target-present trial the target is found after a uniformly
  distributed number of items (1..N); on an absent trial all N items are inspected. Errors are response
  slips independent of the search (``p_miss`` on present, ``p_fa`` on absent trials), with the same RT
  distribution as correct answers. Timing as in :mod:`._timing` (fitted item time, so a fitted rate).
- :class:`Parallel`: unlimited capacity, RT independent of the set size: ``t0 + Gamma(k_yes or k_no, scale)``
  by response; ``p_miss`` and ``p_fa`` as above.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cogsim.fit import Param
from cogsim.models.search._cgs import TIMING_PARAMS, design
from cogsim.models.search._start import parallel_start, serial_start
from cogsim.models.search._timing import (
    MAX_ITEMS,
    check_trials,
    mixture_loglik,
    responded_present,
    sample_rt,
    table_loglik,
    trial_kind,
)
from cogsim.models.working_memory._model import per_trial

_ERRORS = (
    Param("p_miss", 0.0, 1.0, default=0.03, doc="probability of answering 'absent' on a present trial"),
    Param("p_fa", 0.0, 1.0, default=0.02, doc="probability of answering 'present' on an absent trial"),
)


def _p_correct(p, t):
    tp = jnp.asarray(t["target_present"])
    yes = responded_present(t)
    p_yes = jnp.where(tp == 1, 1 - p["p_miss"], p["p_fa"])
    return jnp.where(yes == 1, p_yes, 1 - p_yes)


def _simulate_responses(p, t, rt, cont, key):
    k1, k2 = jax.random.split(key)
    tp = jnp.asarray(t["target_present"])
    m = tp.shape[0]
    p_yes = jnp.where(tp == 1, 1 - p["p_miss"], p["p_fa"])
    yes = jax.random.uniform(k1, (m,)) < p_yes
    yes = jnp.where(cont, jax.random.bernoulli(k2, 0.5, (m,)), yes)
    return {"rt_ms": rt * 1000.0, "correct": jnp.where(tp == 1, yes, ~yes).astype(jnp.int32)}


class SerialSelfTerminating:
    """Serial self-terminating search with a fitted rate (see the module docstring).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> m = SerialSelfTerminating()
      >>> p = {q.name: jnp.float32(q.default) for q in m.params}
      >>> t = {"set_size": jnp.array([6]), "target_present": jnp.array([0]), "correct": jnp.array([1]),
      ...      "rt_ms": jnp.array([700.0])}
      >>> jax.jit(m.loglik)(p, t).shape  # compiled once, not run op by op
      (1,)
    """

    name = "serial"
    params = (*_ERRORS, *TIMING_PARAMS)
    by_set_size = False
    requires = ("target_present", "correct", "rt_ms")

    def __init__(self, max_items: int = MAX_ITEMS):
        self.max_items = int(max_items)

    def loglik(self, p, t):
        """Per-trial log-likelihood of the RT and the response (one table row per kind of trial; 0-d for one
        trial of 0-d arrays, :func:`cogsim.models.working_memory._model.per_trial`)."""
        t, one = per_trial(t, self.name)
        m = self.max_items
        n = jnp.tile(jnp.maximum(jnp.arange(m + 1), 1), 2)[:, None]  # set size 0 is no display
        tp = jnp.repeat(jnp.arange(2), m + 1)[:, None]
        k = jnp.arange(m + 1)
        p_n = jnp.where(tp == 1, jnp.where((k >= 1) & (k <= n), 1.0 / n, 0.0), jnp.where(k == n, 1.0, 0.0))
        p_yes = jnp.where(tp == 1, 1 - p["p_miss"], p["p_fa"])
        table = jnp.concatenate([p_n * (1 - p_yes), p_n * p_yes])  # rows: trial_kind(t, m)
        ll = table_loglik(
            table, trial_kind(t, m), p["k_res"], p["k_item"], t["rt_ms"] / 1000.0, p["t0_s"], p["scale_s"]
        )
        return ll[0] if one else ll

    def check_trials(self, frame, src: str) -> None:
        """Refuses trials the likelihood would read wrongly (:func:`._timing.check_trials`)."""
        check_trials(frame, src, self.max_items)

    def initial(self, trials) -> dict[str, float]:
        """A start from one unit's trials (:func:`._start.serial_start`)."""
        return serial_start(trials)

    def simulate(self, p, t, *, key):
        """Draws the number of inspected items, the RT and the response; returns ``rt_ms``, ``correct``."""
        k1, k2, k3 = jax.random.split(key, 3)
        n = jnp.asarray(t["set_size"])
        tp = jnp.asarray(t["target_present"])
        pos = jax.random.randint(k1, n.shape, 1, n + 1)
        count = jnp.where(tp == 1, pos, n)
        rt, cont = sample_rt(count, p["k_item"], p["k_res"], p["t0_s"], p["scale_s"], key=k2)
        return _simulate_responses(p, t, rt, cont, k3)

    def design(self, n_trials: int, *, key: jax.Array) -> dict:
        """Set sizes 3/6/12/18, target present on half the trials."""
        return design(n_trials, key=key)


class Parallel:
    """Unlimited-capacity parallel search: RT independent of set size (see the module docstring).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> m = Parallel()
      >>> p = {q.name: jnp.float32(q.default) for q in m.params}
      >>> t = {"set_size": jnp.array([3, 18]), "target_present": jnp.array([1, 1]),
      ...      "correct": jnp.array([1, 1]), "rt_ms": jnp.array([500.0, 500.0])}
      >>> bool(jnp.allclose(*jax.jit(m.loglik)(p, t)))  # compiled once, not run op by op
      True
    """

    name = "parallel"
    params = (
        *_ERRORS,
        Param("t0_s", 0.0, 2.0, default=0.25, doc="shift of the RT distribution, seconds"),
        Param("scale_s", 0.0, default=0.02, doc="gamma scale, seconds"),
        Param("k_yes", 0.0, default=10.0, doc="gamma shape of 'present' RTs"),
        Param("k_no", 0.0, default=12.0, doc="gamma shape of 'absent' RTs"),
    )
    by_set_size = False
    requires = ("target_present", "correct", "rt_ms")

    def loglik(self, p, t):
        """Per-trial log-likelihood of the RT and the response (0-d for one trial of 0-d arrays,
        :func:`cogsim.models.working_memory._model.per_trial`)."""
        t, one = per_trial(t, self.name)
        yes = responded_present(t)
        shape = jnp.where(yes == 1, p["k_yes"], p["k_no"])[:, None]
        p_obs = _p_correct(p, t)[:, None]
        ll = mixture_loglik(p_obs, shape, t["rt_ms"] / 1000.0, p["t0_s"], p["scale_s"])
        return ll[0] if one else ll

    def check_trials(self, frame, src: str) -> None:
        """Refuses trials the likelihood would read wrongly (:func:`._timing.check_trials`)."""
        check_trials(frame, src)

    def initial(self, trials) -> dict[str, float]:
        """A start from one unit's trials (:func:`._start.parallel_start`)."""
        return parallel_start(trials)

    def simulate(self, p, t, *, key):
        """Draws the response, then its RT; returns ``rt_ms``, ``correct``."""
        k1, k2, k3 = jax.random.split(key, 3)
        tp = jnp.asarray(t["target_present"])
        p_yes = jnp.where(tp == 1, 1 - p["p_miss"], p["p_fa"])
        yes = jax.random.uniform(k1, tp.shape) < p_yes
        shape = jnp.where(yes, p["k_yes"], p["k_no"])
        rt, cont = sample_rt(jnp.zeros(tp.shape, jnp.int32), 1.0, shape, p["t0_s"], p["scale_s"], key=k2)
        out = _simulate_responses(p, t, rt, cont, k3)
        correct = jnp.where(cont, out["correct"], jnp.where(tp == 1, yes, ~yes).astype(jnp.int32))
        return {"rt_ms": out["rt_ms"], "correct": correct}

    def design(self, n_trials: int, *, key: jax.Array) -> dict:
        """Set sizes 3/6/12/18, target present on half the trials."""
        return design(n_trials, key=key)
