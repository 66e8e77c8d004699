"""Competitive Guided Search (Moran, Zehetleitner, Mueller & Usher 2013, J Vis 13(8):24).

Serial search in which each step is a competition among the not-yet-inspected items and a quit unit: the
target has weight ``w_target``, each distractor weight 1, the quit unit ``w_quit``; an item (or quitting) is
chosen with probability proportional to its weight. After each rejected distractor the quit weight grows by
``dw_quit``. Selecting the target ends the trial with "present"; quitting ends it with a guess, "present"
with probability ``p_guess`` (false alarms on absent trials, lucky hits on present ones) and "absent"
otherwise (misses on present trials). Item and residual times follow :mod:`._timing`.

The probability of ending after ``n`` items with each response is an exact recursion over steps (a
cumulative product over at most ``max_items`` steps), so the likelihood is exact. It depends on a trial only
through its set size, target presence and response, so the likelihood computes it once for each of these
kinds of trial (set sizes 0..``max_items``) and gathers it per trial (:func:`._timing.table_loglik`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cogsim.fit import Param
from cogsim.models.search._start import cgs_start
from cogsim.models.search._timing import (
    MAX_ITEMS,
    check_trials,
    sample_rt,
    table_loglik,
    trial_kind,
)
from cogsim.models.working_memory._model import per_trial

TIMING_PARAMS = (
    Param("t0_s", 0.0, 2.0, default=0.25, doc="shift of the residual (non-search) time, seconds"),
    Param("scale_s", 0.0, default=0.02, doc="common gamma scale of item and residual times, seconds"),
    Param("k_item", 0.0, default=2.0, doc="gamma shape of one item's inspection time"),
    Param("k_res", 0.0, default=8.0, doc="gamma shape of the residual time"),
)


def cgs_outcome_probs(w_target, w_quit, dw_quit, p_guess, set_size, target_present, *, max_items=MAX_ITEMS):
    """P(end after n items, response) of CGS per trial: ``(p_yes, p_no)``, each ``[trials, max_items + 1]``.

    At step ``j`` (``j`` distractors rejected so far) the target is chosen with probability
    ``w_target / S_j``, the quit unit with ``(w_quit + j dw_quit) / S_j`` and a distractor with
    ``(D - j) / S_j``, where ``S_j`` is the sum of the remaining weights; reaching step ``j`` has probability
    ``prod_{i<j} (D - i) / S_i`` (a cumulative product, vectorised over trials and steps). Where no weight
    is left (``S_j = 0``: every item rejected, the target absent or of weight 0, and ``w_quit = dw_quit =
    0``) the searcher quits, the limit of ``w_quit -> 0``; until 2026-12-07 that was 0/0, NaN.

    Example:
      >>> import jax.numpy as jnp
      >>> yes, no = cgs_outcome_probs(5.0, 0.5, 0.3, 0.02, jnp.array([6, 6]), jnp.array([1, 0]))
      >>> [round(float(v), 4) for v in (yes + no).sum(1)]
      [1.0, 1.0]
    """
    n = jnp.asarray(set_size, jnp.float32)[:, None]
    tp = jnp.asarray(target_present, jnp.float32)[:, None]
    j = jnp.arange(max_items + 1, dtype=jnp.float32)
    rem = jnp.maximum(n - tp - j, 0.0)
    wq = w_quit + j * dw_quit
    s = rem + tp * w_target + wq
    left = s > 0  # else nothing left to choose: quit (below); where s > 0 the same operations as before
    s = jnp.where(left, s, 1.0)
    alive = jnp.cumprod(jnp.pad((rem / s)[:, :-1], ((0, 0), (1, 0)), constant_values=1.0), axis=1)
    found = alive * tp * w_target / s  # found at step j: n = j + 1 items inspected (s = 0: none left)
    quit = jnp.where(left, alive * wq / s, alive)  # quit at step j: n = j
    found_n = jnp.pad(found[:, :-1], ((0, 0), (1, 0)))
    return found_n + p_guess * quit, (1 - p_guess) * quit


def design(n_trials: int, *, key: jax.Array, set_sizes=(3, 6, 12, 18)) -> dict:
    """A balanced random design: set sizes drawn uniformly, target present on half the trials."""
    k1, k2 = jax.random.split(key)
    ss = jnp.asarray(set_sizes)[jax.random.randint(k1, (n_trials,), 0, len(set_sizes))]
    return {"set_size": ss, "target_present": jax.random.bernoulli(k2, 0.5, (n_trials,)).astype(jnp.int32)}


class CGS:
    """Competitive Guided Search as a :class:`cogsim.fit.Model` (see the module docstring).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> m = CGS()
      >>> p = {q.name: jnp.float32(q.default) for q in m.params}
      >>> t = {"set_size": jnp.array([6, 18]), "target_present": jnp.array([1, 0]),
      ...      "correct": jnp.array([1, 1]), "rt_ms": jnp.array([600.0, 900.0])}
      >>> jax.jit(m.loglik)(p, t).shape  # compiled once, not run op by op
      (2,)
    """

    name = "cgs"
    params = (
        Param("w_target", 0.0, default=5.0, doc="selection weight of the target (distractors 1)"),
        Param("w_quit", 0.0, default=0.5, doc="initial weight of the quit unit"),
        Param("dw_quit", 0.0, default=0.3, doc="growth of the quit weight per rejected distractor"),
        Param("p_guess", 0.0, 1.0, default=0.05, doc="probability of answering 'present' after quitting"),
        *TIMING_PARAMS,
    )
    by_set_size = False
    requires = ("target_present", "correct", "rt_ms")

    def __init__(self, max_items: int = MAX_ITEMS):
        self.max_items = int(max_items)

    def probs(self, p, t):
        """``(p_yes, p_no)`` over the number of inspected items (0..max_items), per trial."""
        return cgs_outcome_probs(
            p["w_target"],
            p["w_quit"],
            p["dw_quit"],
            p["p_guess"],
            t["set_size"],
            t["target_present"],
            max_items=self.max_items,
        )

    def loglik(self, p, t):
        """Per-trial log-likelihood of the RT and the response (0-d for one trial of 0-d arrays,
        :func:`cogsim.models.working_memory._model.per_trial`)."""
        t, one = per_trial(t, self.name)
        ll = self._loglik(p, t)
        return ll[0] if one else ll

    def _loglik(self, p, t):
        m = self.max_items
        sizes = jnp.tile(jnp.maximum(jnp.arange(m + 1), 1), 2)  # set size 0 is no display: any row will do
        present = jnp.repeat(jnp.arange(2), m + 1)
        yes, no = self.probs(p, {"set_size": sizes, "target_present": present})
        table = jnp.concatenate([no, yes])  # rows: trial_kind(t, m)
        return table_loglik(
            table, trial_kind(t, m), p["k_res"], p["k_item"], t["rt_ms"] / 1000.0, p["t0_s"], p["scale_s"]
        )

    def check_trials(self, frame, src: str) -> None:
        """Refuses trials the likelihood would read wrongly (:func:`._timing.check_trials`)."""
        check_trials(frame, src, self.max_items)

    def initial(self, trials) -> dict[str, float]:
        """A start from one unit's trials (:func:`._start.cgs_start`)."""
        return cgs_start(trials)

    def simulate(self, p, t, *, key):
        """Runs the competition step by step (not from the likelihood's tables).

        Returns:
          ``{"rt_ms": ..., "correct": ...}``, arrays ``[trials]``.
        """
        k_sel, k_guess, k_rt, k_cr = jax.random.split(key, 4)
        n = jnp.asarray(t["set_size"], jnp.float32)
        tp = jnp.asarray(t["target_present"], jnp.float32)
        m = n.shape[0]

        def step(state, xs):
            rem, wq, count, done, found = state
            u = xs
            w_t = jnp.where(found | done, 0.0, tp * p["w_target"])
            s = rem + w_t + wq
            pick_t = u < w_t / s
            pick_q = (~pick_t) & ((u < (w_t + wq) / s) | (s <= 0))  # nothing left to choose: quit
            pick_d = ~(pick_t | pick_q)
            live = ~done
            count = count + jnp.where(live & (pick_t | pick_d), 1, 0)
            found = found | (live & pick_t)
            rem = jnp.where(live & pick_d, rem - 1, rem)
            wq = jnp.where(live & pick_d, wq + p["dw_quit"], wq)
            done = done | pick_t | pick_q
            return (rem, wq, count, done, found), None

        u = jax.random.uniform(k_sel, (self.max_items + 1, m))
        no = jnp.zeros(m, bool)
        init = (n - tp, jnp.full((m,), p["w_quit"]), jnp.zeros(m, jnp.int32), no, no)
        (_, _, count, _, found), _ = jax.lax.scan(step, init, u)
        guess = jax.random.bernoulli(k_guess, p["p_guess"], (m,))
        yes = found | guess
        rt, cont = sample_rt(count, p["k_item"], p["k_res"], p["t0_s"], p["scale_s"], key=k_rt)
        yes = jnp.where(cont, jax.random.bernoulli(k_cr, 0.5, (m,)), yes)
        correct = jnp.where(tp == 1, yes, ~yes).astype(jnp.int32)
        return {"rt_ms": rt * 1000.0, "correct": correct}

    def design(self, n_trials: int, *, key: jax.Array) -> dict:
        """Set sizes 3/6/12/18, target present on half the trials (as in Wolfe et al. 2010)."""
        return design(n_trials, key=key)


CGS_MODEL = CGS()
