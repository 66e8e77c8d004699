"""Posterior sampling of every participant's parameters by Hamiltonian Monte Carlo (:mod:`cogsim.fit._hmc`),
all participants in one jitted program (one after another, each one's chains vectorised), with R-hat and
bulk ESS per parameter (:mod:`cogsim.fit._diagnostics`)."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from cogsim.errors import CogsimError, check_count
from cogsim.fit import _hmc, _model, _objective, _tempering
from cogsim.fit._data import check_no_blanks, pack, unit_ids
from cogsim.fit._density import Density
from cogsim.fit._diagnostics import ess_bulk, rhat
from cogsim.fit._fit import _estimates
from cogsim.fit._key import check_key

#: the convergence rule (Vehtari et al. 2021): every parameter's R-hat at most ``RHAT_MAX``, its bulk ESS at
#: least ``ESS_PER_CHAIN`` per chain, and no divergent transition
RHAT_MAX = 1.01
ESS_PER_CHAIN = 100
#: the spread of the chains' starts around the parameters' defaults, unconstrained: uniform on [-2, 2]
INIT_SPREAD = 2.0
#: the narrowest padded width of a unit (:func:`own_width`): below it a row costs next to nothing beside a
#: compilation (on Zhang & Luck's trials mixture2p's units hold 17-63 distinct rows: one width, not two)
MIN_WIDTH = 64


@dataclasses.dataclass(frozen=True)
class SampleResult:
    """What :func:`sample` returns.

    Attributes:
      model: the model's name.
      by: the participant columns.
      estimates: one row per participant (x set size) x parameter: ``model, <by...>, set_size, parameter,
        estimate`` (the posterior median), ``ci_low, ci_high`` (the equal-tailed credible interval at
        ``level``), ``mean, sd, rhat, ess_bulk``; all NaN for a parameter that the unit's trials do not inform
        (inert, see ``cogsim.fit.Model``: drawn from its prior, as ``draws`` keep it), as ``fit`` reports it.
      summary: one row per participant: ``model, <by...>, n_trials, max_rhat, min_ess, divergences,
        accept_rate, converged`` (and with ``n_temperatures > 1``: ``min_swap_rate``, the lowest mean
        acceptance of exchanges between neighbouring replicas over the participant's units and chains, and
        ``barrier``, the largest over its units of the communication barrier between ``beta = 1`` and the
        hottest replica, estimated as the neighbouring pairs' rejection rates summed (Syed et al. 2022) and
        averaged over the chains: with the pairs rejected equally often, ``n_temperatures >= 2 barrier + 1``
        keeps each pair's rejection at most 0.5).
      units: one row per sampled unit (participant, or participant x set size) with the same diagnostics and
        the step size the warm-up chose (median over chains).
      draws: ``[n_units, n_chains, n_samples, k]`` the draws after the warm-up, on the parameters' own scale,
        the units in the order of ``units``, the parameters in the model's order.
      settings: chains, warm-up, draws, leapfrog steps, temperatures, the priors, the level.
      swap_rate: ``[n_units, n_chains, n_temperatures - 1]`` with replica exchange, each chain's mean
        acceptance of exchanges between replicas ``r`` and ``r + 1`` after the warm-up (near 0: the chain's
        exchanges stop there); None for plain HMC.
      betas: ``[n_units, n_chains, n_temperatures]`` with replica exchange, each chain's ladder of inverse
        temperatures after the warm-up (the one its draws ran on); None for plain HMC.
    """

    model: str
    by: tuple[str, ...]
    estimates: pd.DataFrame
    summary: pd.DataFrame
    units: pd.DataFrame
    draws: np.ndarray
    settings: dict
    swap_rate: np.ndarray | None = None
    betas: np.ndarray | None = None


def _check(n_chains, n_warmup, n_samples, n_leapfrog, level, n_temperatures=1) -> tuple[int, ...]:
    """The counts as plain ints (numpy integers accepted; bools, floats and smaller values refused, one line
    naming the argument), after checking ``level``."""
    counts = tuple(
        check_count("sample", name, v, low=low)
        for name, v, low in (
            ("n_chains", n_chains, 2),
            ("n_warmup", n_warmup, 20),
            ("n_samples", n_samples, 20),
            ("n_leapfrog", n_leapfrog, 1),
            ("n_temperatures", n_temperatures, 1),
        )
    )
    if not isinstance(level, numbers.Real) or isinstance(level, bool) or not 0.0 < level < 1.0:
        raise CogsimError(f"sample level: got {level!r}; allowed: a credible level in (0, 1)")
    return counts


def _auto(model, data, value: str, args: dict) -> SampleResult:
    """``sample(n_temperatures="auto")`` (see :func:`sample`)."""
    if value != "auto":
        raise CogsimError(f"sample n_temperatures: got {value!r}; allowed: an integer >= 1, None or 'auto'")
    r, runs = max(2, getattr(model, "sample_temperatures", 1)), []
    while True:
        res = sample(model, data, n_temperatures=r, **args)
        barrier = float(res.summary["barrier"].max())
        needed = _tempering.temperatures_for(barrier) if math.isfinite(barrier) else None
        runs.append({"n_temperatures": r, "max_barrier": barrier, "needed": needed})
        more = _tempering.auto_temperatures(r, barrier)
        if more is None or len(runs) == _tempering.AUTO_RUNS:
            res.settings.update(auto_runs=runs, auto_stopped=more is not None)
            return res
        r = more


def own_width(n: int) -> int:
    """The padded width of a unit of ``n`` rows in :func:`sample`: the next power of two, at least
    ``MIN_WIDTH`` (a width that depends on the unit alone; at most twice its rows beyond ``MIN_WIDTH``, and
    few widths to compile: each is one more compilation of the sampler).

    Example:
      >>> [own_width(n) for n in (3, 64, 65, 125, 167)]
      [64, 64, 128, 128, 256]
    """
    return 1 << max(MIN_WIDTH.bit_length() - 1, int(n - 1).bit_length())


def own_widths(packed, model):
    """The units of ``packed`` in batches of one padded width each, ``(unit indices, trials, mask)``: each
    unit's distinct rows weighted by their count where ``fit`` evaluates distinct rows
    (:mod:`cogsim.fit._compress`, whatever the saving), padded with its first row (weight 0) to
    :func:`own_width` of its own rows, so that neither whether its rows are merged nor its padding depends on
    the other units."""
    from cogsim.fit._compress import by_default, canonical, compress

    work = compress(packed, model, min_saving=0.0) if by_default(model) else canonical(packed, model)
    mask = np.asarray(work.mask)
    host = {c: np.asarray(a) for c, a in work.trials.items()}
    wide = mask.shape[1]
    widths = np.asarray([own_width(int(n)) for n in (mask > 0).sum(axis=1)])  # real rows come first
    for w in np.unique(widths):
        idx = np.flatnonzero(widths == w)

        def cut(a, fill=None, idx=idx, w=int(w)):
            a = a[idx, : min(w, wide)]
            if w <= wide:
                return a
            pad = (
                np.repeat(a[:, :1], w - wide, axis=1) if fill is None else np.full((len(idx), w - wide), fill)
            )
            return np.concatenate([a, pad.astype(a.dtype)], axis=1)

        yield idx, {c: jnp.asarray(cut(a)) for c, a in host.items()}, jnp.asarray(cut(mask, fill=0))


def needs_prior(model) -> tuple[str, ...]:
    """The parameters of ``model`` without two finite bounds: :func:`sample` needs a prior for each."""
    return tuple(p.name for p in model.params if not (math.isfinite(p.low) and math.isfinite(p.high)))


def log_prior(model, prior: _objective.Prior | None):
    """``lp(u)``: the log prior density of the unconstrained values ``u`` ``[k]``: each parameter's given
    log-density of its own value, or uniform between its bounds where it has two finite bounds and no prior
    is given, plus the log-Jacobian of its transform. Parameters without a prior and without two finite
    bounds are an error, naming all of them (a flat prior over an unbounded range can leave the posterior
    improper).

    Example:
      >>> from cogsim.fit import Param
      >>> class M:
      ...     name, params = "m", (Param("p", 0.0, 1.0, default=0.5),)
      >>> round(float(log_prior(M(), None)(jnp.zeros(1))), 4)  # uniform on (0, 1) at p = 0.5: log 0.25
      -1.3863
    """
    prior = _objective.check_prior(model, prior)
    missing = [p for p in model.params if p.name in needs_prior(model) and p.name not in prior]
    if missing:
        example = ", ".join(
            f"{p.name!r}: lambda x: jax.scipy.stats.norm.logpdf(x, 0.0, 10.0)" for p in missing
        )
        raise CogsimError(
            "sample prior: no prior for "
            + ", ".join(f"{p.name!r} (bounds ({p.low}, {p.high}))" for p in missing)
            + "; allowed: a log-density for every parameter without two finite bounds (those default to "
            f"uniform between them), e.g. prior={{{example}}}"
        )

    def lp(u):
        vals = _objective.values(model, u)
        total = jnp.float32(0.0)
        for i, p in enumerate(model.params):
            density = prior[p.name](vals[p.name]) if p.name in prior else -math.log(p.high - p.low)
            total = total + density + p.log_jacobian(u[i])
        return total

    return lp


def _prior_text(prior, p) -> str:
    """How the settings name parameter ``p``'s prior: a :class:`~cogsim.fit.Density`'s text, ``"given"``
    for another function, ``"uniform"`` for none."""
    fn = (prior or {}).get(p.name)
    return "uniform" if fn is None else str(fn) if isinstance(fn, Density) else "given"


def sample(
    model,
    data: pd.DataFrame,
    *,
    by: Sequence[str] = ("subject",),
    prior: _objective.Prior | None = None,
    n_chains: int = 4,
    n_warmup: int = 1000,
    n_samples: int = 1000,
    n_leapfrog: int = 10,
    n_temperatures: int | str | None = None,
    adapt_ladder: bool = True,
    level: float = 0.95,
    min_trials: int = 10,
    set_size_column: str = "set_size",
    key: jax.Array,
) -> SampleResult:
    """Draws from every participant's posterior (and set size's, for per-set-size models) at once.

    The posterior of a unit is its likelihood times the prior (:func:`log_prior`), sampled in the
    optimiser's unconstrained coordinates by HMC with Stan's warm-up (:mod:`cogsim.fit._hmc`); ``n_chains``
    chains per unit, chain ``c`` of the unit with random-stream id ``i`` keyed by ``fold_in(fold_in(key, i),
    c)`` (so a unit's draws do not depend on the other units) and started uniformly within ``INIT_SPREAD``
    of the defaults (unconstrained). A unit counts as ``converged`` when every parameter's rank-normalised
    split R-hat is at most 1.01, its bulk ESS at least 100 per chain, and no transition diverged.

    With ``n_temperatures > 1`` each chain is a replica-exchange chain (:mod:`cogsim.fit._tempering`): that
    many replicas sample the posterior with the likelihood raised to inverse temperatures spaced evenly in
    ``log beta`` from 1 down to ``1 / n`` (``n``: the unit's trials, so the hottest replica's likelihood
    weighs about one trial), exchanging states with their neighbours every iteration; the draws are the
    ``beta = 1`` replica's. The warm-up moves the ladder's inner rungs until every neighbouring pair exchanges
    about equally often (``adapt_ladder``; Syed et al. 2022), and the draws run on the ladder it ends with
    (``SampleResult.betas``). For posteriors with separated modes (a capacity on either side of an integer),
    which HMC alone does not cross; it costs ``n_temperatures`` times the evaluations. ``None`` takes the
    model's ``sample_temperatures`` (1 where it declares none; slots_averaging declares 8). ``"auto"`` chooses
    the number from the barrier the exchanges measure (docs/fitting.md, "Temperatures chosen from the
    barrier"): it samples with ``max(2, the model's number)``, then again, from the same key, with
    :func:`cogsim.fit.auto_temperatures` of the largest barrier over the units while that asks for more, at
    most ``AUTO_RUNS`` (4) runs; it returns the last run, whose ``settings["auto_runs"]`` lists every run's
    ``n_temperatures``, ``max_barrier`` and ``needed`` (:func:`cogsim.fit.temperatures_for`), and
    ``settings["auto_stopped"]`` whether the last still asked for more.

    Args:
      model: a model (``params``, ``loglik``), as for :func:`cogsim.fit.fit`.
      data: trials, one row each (e.g. from ``Paradigm.read``).
      by: participant columns.
      prior: parameter name -> log-density of its own value (JAX-traceable); required for every parameter
        without two finite bounds.
      n_chains, n_warmup, n_samples: chains per unit, warm-up iterations and kept draws per chain.
      n_leapfrog: leapfrog steps per iteration.
      n_temperatures: replicas per chain (1: plain HMC; None: the model's ``sample_temperatures``, else 1;
        ``"auto"``: from the measured barrier, above).
      adapt_ladder: tune the ladder in the warm-up (True) or keep it evenly spaced in ``log beta`` (False).
      level: the credible intervals' level.
      min_trials, set_size_column: as for :func:`cogsim.fit.fit`.
      key: the root PRNG key.

    Example:
      >>> import jax, numpy as np, pandas as pd
      >>> from cogsim.fit import Param
      >>> class Coin:
      ...     name, params = "coin", (Param("p", 0.0, 1.0, default=0.5),)
      ...     def loglik(self, q, t):
      ...         return jnp.where(t["y"] > 0, jnp.log(q["p"]), jnp.log1p(-q["p"]))
      >>> df = pd.DataFrame({"subject": 1, "y": [1] * 14 + [0] * 6})
      >>> res = sample(Coin(), df, n_warmup=200, n_samples=500, key=jax.random.key(0))
      >>> bool(abs(res.estimates["mean"].iloc[0] - 15 / 22) < 0.02)  # the Beta(15, 7) posterior's mean
      True
    """
    check_key(key, what="sample")
    _model.check_model(model)
    if isinstance(n_temperatures, str):
        args = dict(by=by, prior=prior, n_chains=n_chains, n_warmup=n_warmup, n_samples=n_samples,
                    n_leapfrog=n_leapfrog, adapt_ladder=adapt_ladder, level=level, min_trials=min_trials,
                    set_size_column=set_size_column, key=key)  # fmt: skip
        return _auto(model, data, n_temperatures, args)
    if n_temperatures is None:
        n_temperatures = getattr(model, "sample_temperatures", 1)
    n_chains, n_warmup, n_samples, n_leapfrog, n_temperatures = _check(
        n_chains, n_warmup, n_samples, n_leapfrog, level, n_temperatures
    )
    if not isinstance(adapt_ladder, (bool, np.bool_)):
        raise CogsimError(f"sample adapt_ladder: got {adapt_ladder!r}; allowed: True or False")
    adapt_ladder, level = bool(adapt_ladder), float(level)
    min_trials = check_count("sample", "min_trials", min_trials)
    if isinstance(by, str) or not by or not all(isinstance(b, str) for b in by):
        raise CogsimError(f"sample by: got {by!r}; allowed: a non-empty tuple of column names")
    by = tuple(by)
    if not model.params:
        raise CogsimError(f"sample model: {model.name!r} has no parameters; allowed: a model with parameters")
    lp_prior = log_prior(model, prior)
    packed = pack(data, model, by=by, set_size_column=set_size_column, min_trials=min_trials)
    model = _model.specialised(model, data)  # the same parameters: the prior above stands
    ids = np.asarray(unit_ids(packed.units, packed.keys), np.uint32)
    k = len(model.params)
    base = _objective.default_u(model)

    runs = {"n_warmup": n_warmup, "n_samples": n_samples, "n_leapfrog": n_leapfrog}

    def one_chain(unit_id, chain, trials, mask, n_trials):
        ck = jax.random.fold_in(jax.random.fold_in(key, unit_id), chain)
        k_init, k_run = jax.random.split(ck)
        u0 = base + jax.random.uniform(k_init, (k,), minval=-INIT_SPREAD, maxval=INIT_SPREAD)
        loglik = lambda u: _objective.loglik_sum(model, u, trials, mask)
        if n_temperatures == 1:
            return _hmc.run(lambda u: loglik(u) + lp_prior(u), u0, key=k_run, **runs)
        betas = _tempering.ladder(n_temperatures, 1.0 / n_trials)
        return _tempering.run(loglik, lp_prior, u0, betas=betas, key=k_run, adapt_ladder=adapt_ladder, **runs)

    chains = jnp.arange(n_chains)
    per_unit = jax.vmap(one_chain, in_axes=(None, 0, None, None, None))
    # one unit at a time (its chains vectorised), each padded to a width of its own rows alone
    # (:func:`own_widths`): a unit's program is the same whatever the other units, so its draws are too
    # (vectorised over units, or padded to the longest unit, rounding could differ with the batch, and
    # chains amplify it); one compilation per width
    program = jax.jit(lambda xs: jax.lax.map(lambda a: per_unit(a[0], chains, *a[1:]), xs))
    n_trials = packed.units["n_trials"].to_numpy(np.float32)
    outs, order = [], []
    for idx, trials, mask in own_widths(packed, model):
        outs.append(program((ids[idx], trials, mask, n_trials[idx])))
        order.append(idx)
    back = np.argsort(np.concatenate(order))  # the units' order again
    out = jax.tree.map(lambda *xs: np.concatenate([np.asarray(x) for x in xs])[back], *outs)
    stuck = np.flatnonzero(np.asarray(out.accept).max(axis=(1, 2)) == 0.0)  # never a finite log-density
    check_no_blanks(data, packed, stuck, model)  # a blank response named as the CSV reader names it
    u = np.asarray(out.u)  # [U, C, S, k]
    x = np.stack([np.asarray(p.from_unconstrained(u[..., i])) for i, p in enumerate(model.params)], -1)
    series = np.moveaxis(x, (1, 2), (2, 3))  # [U, k, C, S]
    r, ess = rhat(series), ess_bulk(series)
    tail = (1.0 - level) / 2.0
    med = np.median(x, axis=(1, 2))
    lo, hi = np.quantile(x, tail, axis=(1, 2)), np.quantile(x, 1.0 - tail, axis=(1, 2))
    # a parameter the unit's trials do not inform (inert: p_swap without non-targets, a shared model's set
    # size the participant lacks) is drawn from its prior: reported as NaN, as fit reports it, and left out
    # of the unit's convergence
    inert = _model.inert_mask(model, packed)
    estimates = _estimates(model, packed, by, med, lo, hi, set_size_column, inert)
    shown = lambda a: np.where(inert, np.nan, a).ravel()
    estimates["mean"] = shown(x.mean(axis=(1, 2)))
    estimates["sd"] = shown(x.std(axis=(1, 2), ddof=1))
    estimates["rhat"] = shown(r)
    estimates["ess_bulk"] = shown(ess)

    units = packed.units.drop(columns=["first_row"]).copy()
    none = inert.all(axis=1)  # no parameter informed: no diagnostics (NaN)
    worst_r = np.where(inert, -np.inf, np.where(np.isfinite(r), r, np.inf)).max(axis=1)
    least_ess = np.where(inert, np.inf, np.where(np.isfinite(ess), ess, 0.0)).min(axis=1)
    units["max_rhat"] = np.where(none, np.nan, worst_r)
    units["min_ess"] = np.where(none, np.nan, least_ess)
    units["divergences"] = np.asarray(out.divergent).sum(axis=(1, 2)).astype(int)
    units["accept_rate"] = np.asarray(out.accept).mean(axis=(1, 2))
    units["step_size"] = np.median(np.asarray(out.step_size), axis=1)
    units["converged"] = (
        (units["max_rhat"] <= RHAT_MAX)
        & (units["min_ess"] >= ESS_PER_CHAIN * n_chains)
        & (units["divergences"] == 0)
    )
    swaps, swap_rate, betas = {}, None, None
    if n_temperatures > 1:
        swap_rate, betas = np.asarray(out.swap_rate), np.asarray(out.betas)
        units["min_swap_rate"] = swap_rate.min(axis=(1, 2))
        units["barrier"] = (1.0 - swap_rate).sum(axis=2).mean(axis=1)
        swaps = {"min_swap_rate": ("min_swap_rate", "min"), "barrier": ("barrier", "max")}
    summary = (
        units.groupby(list(by), sort=True)
        .agg(
            n_trials=("n_trials", "sum"),
            max_rhat=("max_rhat", "max"),
            min_ess=("min_ess", "min"),
            divergences=("divergences", "sum"),
            accept_rate=("accept_rate", "mean"),
            converged=("converged", "all"),
            **swaps,
        )
        .reset_index()
    )
    summary.insert(0, "model", model.name)
    settings = {
        "sampler": "HMC, Stan's warm-up (dual-averaging step size, diagonal mass matrix in doubling windows)"
        + (
            f"; replica exchange over {n_temperatures} temperatures (1 to 1/n_trials"
            + (", the ladder tuned in the warm-up)" if adapt_ladder else ", even in log beta)")
            if n_temperatures > 1
            else ""
        ),
        "n_chains": n_chains,
        "n_warmup": n_warmup,
        "n_samples": n_samples,
        "n_leapfrog": n_leapfrog,
        "n_temperatures": n_temperatures,
        "adapt_ladder": bool(adapt_ladder) if n_temperatures > 1 else None,
        "level": level,
        "prior": {p.name: _prior_text(prior, p) for p in model.params},
        "min_trials": min_trials,
    }
    return SampleResult(model.name, by, estimates, summary, units, x, settings, swap_rate, betas)
