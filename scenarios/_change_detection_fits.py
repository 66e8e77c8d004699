"""The models the change-detection scenario fits to trial counts: each returns a :class:`ModelFit`.

:func:`fit_fixed_capacity` fits the fixed-capacity model with lapses and guessing
(:mod:`cogsim.models.capacity`) by maximum likelihood, with a participant bootstrap; :func:`fit_workspace`
trains the workspace network (:mod:`cogsim.models.change_detector`) and :func:`fit_grid` fits its
(capacity x noise) grid, with one response-criterion shift per change-probability block. ``config`` is the
scenario's ``Config`` (``n_boot``, ``fit_steps``, ``per_participant``, ``level``, ``workspace``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from cogsim import compare as cmp
from cogsim import config as cfglib
from cogsim.models import capacity
from cogsim.models import change_detector as cdnet


@dataclasses.dataclass(frozen=True)
class ModelFit:
    """What a plugged-in model returns.

    Attributes:
      conditions: one row per set size x change probability: ``hit_pred``, ``fa_pred``.
      params: one row per parameter (and participant: the row index into ``counts.n``; -1 = group):
        ``name, value, ci_low, ci_high``; the CIs are NaN where none can exist (one participant).
      loglik: group log-likelihood of the trial data.
      n_params: number of fitted parameters (group level).
    """

    conditions: pd.DataFrame
    params: pd.DataFrame
    loglik: float
    n_params: int


def _cells(counts: capacity.Counts) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "set_size": counts.set_size,
            "p_change": [counts.p_change[b] for b in counts.block],
            "is_change": counts.is_change,
        }
    )


def _by_condition(cells: pd.DataFrame, p: np.ndarray) -> pd.DataFrame:
    """Turns per-cell P("change") into one row per condition with hit and false-alarm rates."""
    d = cells.assign(p=p)
    wide = d.pivot_table(index=["set_size", "p_change"], columns="is_change", values="p").reset_index()
    return wide.rename(columns={1: "hit_pred", 0: "fa_pred"})[["set_size", "p_change", "hit_pred", "fa_pred"]]


def fit_fixed_capacity(config: Any, counts: capacity.Counts, *, key: jax.Array) -> ModelFit:
    """Fixed capacity with lapses and one guess rate per block; group fit, bootstrap CIs, participant fits."""
    group_n = counts.n.sum(0)
    group_k = counts.k.sum(0)
    group = capacity.fit(counts, group_n, group_k, steps=config.fit_steps)
    boot = (  # one participant: a participant bootstrap gives no CI (all resamples the same)
        capacity.bootstrap(counts, key=key, n_boot=config.n_boot, steps=config.fit_steps)
        if counts.n.shape[0] > 1
        else {"K": None, "a": None, "g": None}
    )
    alpha = (1 - config.level) / 2
    rows = []

    def add(name, value, draws, participant=-1):
        lo, hi = (np.nan, np.nan) if draws is None else np.quantile(np.asarray(draws), [alpha, 1 - alpha])
        rows.append(
            {
                "participant": participant,
                "name": name,
                "value": float(value),
                "ci_low": float(lo),
                "ci_high": float(hi),
            }
        )

    add("K", group["K"], boot["K"])
    add("a", group["a"], boot["a"])
    for b, pc in enumerate(counts.p_change):
        add(f"g_{pc:g}", group["g"][b], None if boot["g"] is None else boot["g"][:, b])
    if config.per_participant:
        per = capacity.fit(counts, steps=config.fit_steps)
        for s in range(counts.n.shape[0]):
            add("K", per["K"][s], None, participant=s)
    p = capacity.predict(
        {k: group[k] for k in capacity.PARAMS}, counts.set_size, counts.block, counts.is_change
    )
    return ModelFit(
        _by_condition(_cells(counts), np.asarray(p)),
        pd.DataFrame(rows),
        float(group["loglik"]),
        2 + len(counts.p_change),
    )


BETA_GRID = np.linspace(-8.0, 8.0, 321)  # response criterion shifts tried per change-probability block


def _predicted(sim: dict, cells: pd.DataFrame) -> np.ndarray:
    """``P("change") [G, cells, beta]`` for every grid point, data cell and criterion shift."""
    s_idx = np.array([sim["set_sizes"].index(n) for n in cells.set_size])
    logit = sim["logit"][:, s_idx, cells.is_change.to_numpy()]  # [G, cells, trials]
    p = np.empty(logit.shape[:2] + (len(BETA_GRID),))
    for j, beta in enumerate(BETA_GRID):
        p[..., j] = np.mean(1 / (1 + np.exp(-(logit + beta))), axis=-1)
    return np.clip(p, 1e-6, 1 - 1e-6)


def _grid_loglik(logp, log1mp, blocks, n, k):
    """Log-likelihood (up to the binomial constant) of count tables ``n, k [..., cells]`` at every grid point,
    with the best criterion shift per block: returns ``(ll [..., G], beta_index [..., G, blocks])``."""
    n, k = np.asarray(n, float), np.asarray(k, float)
    per_block = np.stack(
        [
            np.einsum("...c,gcj->...gj", k[..., blocks == b], logp[:, blocks == b])
            + np.einsum("...c,gcj->...gj", (n - k)[..., blocks == b], log1mp[:, blocks == b])
            for b in np.unique(blocks)
        ],
        axis=-2,
    )  # [..., G, blocks, beta]
    best = per_block.argmax(axis=-1)
    return np.take_along_axis(per_block, best[..., None], axis=-1)[..., 0].sum(axis=-1), best


def fit_workspace(config: Any, counts: capacity.Counts, *, key: jax.Array) -> ModelFit:
    """The workspace network, trained on the task, with capacity and noise fitted to the trials.

    The grid point (``top_k``, ``noise``) and one response-criterion shift per change-probability block
    (``P("change") = sigmoid(logit + beta_block)``) maximise the binomial likelihood of the group's counts.
    CIs come from refitting participant bootstrap resamples over the same grid. ``K`` is the model's mean
    number of squares held at set size 8 (comparable with the fixed-capacity K); ``g_*`` are its guess rates
    (P("change") when the probed square is not in the workspace).
    """
    wcfg = config.workspace
    k_train, k_sim, k_boot = jax.random.split(key, 3)
    set_sizes = tuple(sorted(set(counts.set_size.tolist())))
    if max(set_sizes) > 8 or max(set_sizes) >= cdnet.N_COLOURS:
        raise cfglib.ConfigError(
            "models",
            "workspace",
            f"data with set sizes 1-8 (the network's training; these data reach {max(set_sizes)}: fit the "
            "other models, e.g. models=fixed_capacity)",
        )
    graphdef, params, _ = cdnet.train_change_detector(wcfg, key=k_train)
    sim = cdnet.simulate_grid(graphdef, params, wcfg, key=k_sim, set_sizes=set_sizes)
    return fit_grid(config, counts, sim, key=k_boot)


def fit_grid(config: Any, counts: capacity.Counts, sim: dict, *, key: jax.Array) -> ModelFit:
    """Fits the grid of :func:`simulate_grid` to the counts (see :func:`fit_workspace`)."""
    k_boot = key
    cells = _cells(counts)
    p = _predicted(sim, cells)
    logp, log1mp = np.log(p), np.log1p(-p)
    blocks = np.asarray(counts.block)
    group_ll, group_beta = _grid_loglik(logp, log1mp, blocks, counts.n.sum(0), counts.k.sum(0))
    g = int(np.argmax(group_ll))
    rng = np.random.default_rng(np.asarray(jax.random.key_data(k_boot)))
    n_sub = counts.n.shape[0]
    w = np.stack([np.bincount(rng.integers(0, n_sub, n_sub), minlength=n_sub) for _ in range(config.n_boot)])
    fits = [
        _grid_loglik(logp, log1mp, blocks, w[i : i + 100] @ counts.n, w[i : i + 100] @ counts.k)
        for i in range(0, len(w), 100)
    ]  # chunks bound the memory of the [resamples, grid, beta] table
    boot_ll, boot_beta = np.concatenate([f[0] for f in fits]), np.concatenate([f[1] for f in fits])
    boot_g = boot_ll.argmax(axis=-1)
    no_ci = n_sub < 2  # one participant: every resample is the same, so there is no CI
    alpha = (1 - config.level) / 2
    s8 = sim["set_sizes"].index(max(sim["set_sizes"]))

    def guess(gi, bi, b):
        """P("change") on trials whose probed square is not held, at grid point gi with shift index bi."""
        lg, held = sim["logit"][gi], sim["held"][gi]
        pr = 1 / (1 + np.exp(-(lg + BETA_GRID[bi])))
        return float(pr[held < 0.5].mean()) if np.any(held < 0.5) else np.nan

    rows = []

    def add(name, value, draws=None, participant=-1):
        lo, hi = (
            (np.nan, np.nan)
            if draws is None or no_ci
            else np.nanquantile(np.asarray(draws, float), [alpha, 1 - alpha])
        )
        rows.append(
            {
                "participant": participant,
                "name": name,
                "value": float(value),
                "ci_low": float(lo),
                "ci_high": float(hi),
            }
        )

    items = sim["items_held"][:, s8]
    add("K", items[g], items[boot_g])
    add("top_k", sim["grid"][g][0], [sim["grid"][i][0] for i in boot_g])
    add("noise", sim["grid"][g][1], [sim["grid"][i][1] for i in boot_g])
    for b, pc in enumerate(counts.p_change):
        draws = [guess(i, boot_beta[r, i, b], b) for r, i in enumerate(boot_g)]
        add(f"g_{pc:g}", guess(g, group_beta[g, b], b), draws)
    for j, n in enumerate(sim["set_sizes"]):
        add(f"p_held_n{n}", sim["held"][g, j].mean())
    if config.per_participant:
        part_ll, _ = _grid_loglik(logp, log1mp, blocks, counts.n, counts.k)
        for s, gi in enumerate(part_ll.argmax(axis=-1)):
            add("K", items[gi], participant=s)
    best = p[g, np.arange(len(cells)), group_beta[g, blocks]]
    loglik = float(jnp.sum(cmp.binomial_loglik(counts.k.sum(0), counts.n.sum(0), best)))
    return ModelFit(_by_condition(cells, best), pd.DataFrame(rows), loglik, 2 + len(counts.p_change))
