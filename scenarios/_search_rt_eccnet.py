"""eccNET on the Wolfe et al. (2010) displays with a quitting rule (the ``eccnet`` model of the
``search_rt_distributions`` scenario).

Per task: target-present displays are rendered (:func:`cogsim.tasks.wolfe_displays.eccnet_trials`) and
searched once by eccNET with the shipped backbone (fixating only the cells that hold an item), giving the
fixation at which each display's target is fixated. The two parameters of the quitting rule
(:mod:`cogsim.models.eccnet._quitting`) are fitted to the task's human mean correct target-absent RT and miss
rate (each averaged over set sizes, through eccNET's published RT line); nothing else is fitted. Every
participant's design is then simulated: each target-present trial draws one of the searched displays of its
set size, each trial draws its quit decisions. Only the tasks named ``feature``, ``conjunction`` and
``spatial_configuration`` have displays; other tasks get no eccNET rows, nor do tasks whose humans give the
rule nothing to fit (no target-present trial, or no correct target-absent RT in range: :func:`why_no_rule`).
"""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd

from cogsim.scenarios import _search_rt_measures as ms
from cogsim.tasks import wolfe_displays as wd


def human_targets(t: pd.DataFrame, rt_range, cfg) -> tuple[float, float]:
    """(mean correct target-absent fixations, miss rate) of one task's humans, each set size weighted equally
    (cell means over participants, then over set sizes); RT becomes fixations by eccNET's RT line."""
    cells = ms.cell_stats(t, rt_range).groupby(["set_size", "target_present"])[["mean_rt", "error_rate"]]
    g = cells.mean().reset_index()
    absent_rt = float(g[g.target_present == 0].mean_rt.mean())
    miss = float(g[g.target_present == 1].error_rate.mean())
    return (absent_rt - cfg.rt_intercept) / cfg.rt_slope, miss


def why_no_rule(t: pd.DataFrame, rt_range) -> str:
    """Why the quitting rule cannot be fitted to one task's human trials ``t`` (its two targets: the mean
    correct target-absent RT and the miss rate), or "" when it can. Fitted to a missing target, the rule
    was the search grid's first point whatever the data (a NaN loss everywhere).

    Example:
      >>> t = pd.DataFrame({"subject": 1, "set_size": [3, 6], "target_present": 1, "correct": 1,
      ...                   "rt_ms": [500.0, 600.0]})
      >>> why_no_rule(t.assign(task="feature"), (200.0, 8000.0))
      'no correct target-absent trial with an RT in 200-8000 ms (its mean target-absent RT)'
    """
    if not (t.target_present == 1).any():
        return "no target-present trial (its miss rate)"
    if not len(ms.correct_rts(t[t.target_present == 0], rt_range)):
        lo, hi = rt_range
        return f"no correct target-absent trial with an RT in {lo:g}-{hi:g} ms (its mean target-absent RT)"
    return ""


def search_displays(task: str, set_sizes, n_displays: int, *, ppd: float, backbone: str, seed: int):
    """eccNET's fixation of the target on ``n_displays`` present displays per set size: ``(found_at, n)``."""
    from cogsim.models import eccnet

    sizes = np.repeat(np.asarray(sorted(set_sizes), int), n_displays)
    spec = wd.DisplaySpec(ppd=ppd)
    trials = wd.eccnet_trials(task, sizes, seed=seed, spec=spec)
    ex = eccnet.Extractor.load(backbone, eccnet.Geometry(ppd=ppd))
    res = eccnet.search(ex, trials, eccnet.SearchConfig(items_only=True))
    found_at = np.where(res.found.to_numpy(), res.n_saccades.to_numpy(), sizes + 1)  # never found: a miss
    return found_at.astype(int), sizes


def simulate(config, t: pd.DataFrame, *, key: jax.Array) -> pd.DataFrame:
    """The ``eccnet`` rows of the scenario's simulation: ``trial`` rows per participant and the fitted rule's
    ``estimate`` rows (the same two values on every participant of a task)."""
    from cogsim.models import eccnet

    cfg = eccnet.SearchConfig()
    rt_range = (config.rt_min_ms, config.rt_max_ms)
    frames = []
    unit = ms.unit_columns(t)
    units = list(t.groupby(unit, sort=True))
    for ti, task in enumerate(wd.TASKS):
        tt = t[t.task == task]
        if not len(tt) or why_no_rule(tt, rt_range):  # named by the comparison (note.eccnet_not_run)
            continue
        k_task = jax.random.fold_in(key, ti)
        seed = int(jax.random.randint(k_task, (), 0, 2**31 - 1))
        found_at, sizes = search_displays(
            task, tt.set_size.unique(), config.ecc_displays, ppd=config.ecc_ppd,
            backbone=config.ecc_backbone, seed=seed,
        )  # fmt: skip
        fix, miss = human_targets(tt, rt_range, cfg)
        rule = eccnet.fit_quit_rule(
            found_at, sizes, tt.set_size.unique(), mean_absent_fixations=fix, miss_rate=miss
        )
        for u, (ukey, g) in enumerate(units):
            if ukey[0] != task:
                continue
            ids = dict(zip(unit, ukey, strict=True))
            k_design, k_disp, k_quit = jax.random.split(jax.random.fold_in(k_task, u), 3)
            idx = np.asarray(jax.random.randint(k_design, (config.n_sim,), 0, len(g)))
            n = g.set_size.to_numpy()[idx]
            tp = g.target_present.to_numpy()[idx].astype(int)
            u01 = np.asarray(jax.random.uniform(k_disp, (config.n_sim,)))
            f = np.zeros(config.n_sim, int)
            for s in np.unique(n[tp == 1]):
                pool = found_at[sizes == s]
                pick = (tp == 1) & (n == s)
                f[pick] = pool[np.minimum((u01[pick] * len(pool)).astype(int), len(pool) - 1)]
            out = eccnet.simulate_quitting(rule, f, n, key=k_quit)
            frames.append(
                pd.DataFrame(
                    {**ids, "set_size": n, "target_present": tp,
                     "correct": np.where(tp == 1, out["found"], True).astype(int),
                     "rt_ms": eccnet.rt_ms(out["n_fixations"], cfg)}
                )
            )  # fmt: skip
            frames.append(
                pd.DataFrame(
                    {**ids, "parameter": ["q0", "dq"], "estimate": [rule.q0, rule.dq], "kind": "estimate"}
                )
            )  # fmt: skip
    if not frames:  # no task with rendered displays (e.g. a CSV without the Wolfe task names)
        return pd.DataFrame(columns=[*unit, "kind", "model"])
    out = pd.concat(frames, ignore_index=True)
    out["kind"] = out["kind"].fillna("trial")
    return out.assign(model="eccnet")
