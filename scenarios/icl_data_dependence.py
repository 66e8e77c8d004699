"""Data dependence of in-context vs in-weights learning (Reddy, ICLR 2024; Chan et al., 2022).

A two-layer attention-only network (:mod:`cogsim.models.induction`) is trained on Reddy's classification
task while one property of the data distribution varies around a base setting: burstiness ``B``, number of
classes ``K``, within-class noise ``eps``, the Zipf exponent ``alpha`` of the class frequencies, the fraction
of bursty sequences ``p_B`` and the fraction of novel-class sequences ``p_C``. In-context (IC, novel classes)
and in-weights (IW, non-bursty known classes) accuracy are measured after training. Every grid point and
seed is trained at once: ``K`` and ``B`` are traced, so the whole sweep is one ``jax.vmap`` (over points and
seeds) around :func:`cogsim.train.run_steps`, compiled once. :func:`sweep_point` trains one network at the
base point, so ``cogsim sweep`` can vectorise any grid over the base-point fields and seeds.

These are not human data: :func:`human` returns the paper's qualitative targets.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from cogsim import compare as cmp
from cogsim import config as cfglib
from cogsim import plots
from cogsim.errors import ConfigError
from cogsim.models import induction as ind
from cogsim.reference import Reference
from cogsim.scenarios import _induction_settings as icl

DESCRIPTION = "Reddy 2024 / Chan 2022: in-context vs in-weights learning as burstiness, K, eps, alpha vary"

SWEEPS = ("B", "K", "eps", "alpha", "p_B", "p_C")

# Coexistence near alpha ~ 1: at some grid value within ALPHA_NEAR of 1 (one step of the paper's alpha grid),
# IC and IW accuracy each cover at least COEXIST_FRACTION of the way from chance (1 / L) to perfect.
COEXIST_FRACTION = 0.25
ALPHA_NEAR = 0.25


@dataclasses.dataclass(frozen=True)
class Config(icl.InductionSettings):
    """Base task, the values swept one factor at a time, and training.

    ``K``, ``B``, ``eps``, ``alpha``, ``p_B`` and ``p_C`` are the base point (:func:`sweep_point` trains one
    network there); the tuples are the one-factor-at-a-time grids of :func:`simulate`.
    """

    B: int = cfglib.field(2, low=0, doc="burstiness at the base point")
    alpha: float = cfglib.field(0.0, low=0.0, doc="Zipf exponent at the base point")
    p_B: float = cfglib.field(1.0, low=0.0, high=1.0, doc="fraction of bursty sequences at the base point")
    p_C: float = cfglib.field(
        0.0, low=0.0, high=1.0, doc="fraction of novel-class sequences at the base point"
    )
    Bs: tuple[int, ...] = cfglib.field((0, 1, 2, 4), low=0, doc="burstiness values (at K)")
    Ks: tuple[int, ...] = cfglib.field((128, 256, 512, 2048), low=1, doc="class counts (at B)")
    epss: tuple[float, ...] = cfglib.field(
        (0.1, 0.3, 0.5, 0.7), low=0.0, doc="noise values (at eps_K, eps_B)"
    )
    eps_K: int = cfglib.field(0, low=0, doc="classes in the eps sweep (0 = K)")
    eps_B: int = cfglib.field(-1, low=-1, doc="burstiness in the eps sweep (-1 = B)")
    alphas: tuple[float, ...] = cfglib.field(
        (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75), low=0.0, doc="Zipf exponents (at alpha_K, alpha_B)"
    )
    alpha_K: int = cfglib.field(1024, low=1, high=1_000_000, doc="classes in the alpha sweep")
    alpha_B: int = cfglib.field(1, low=0, doc="burstiness in the alpha sweep")
    p_Bs: tuple[float, ...] = cfglib.field(
        (1.0, 0.75, 0.5), low=0.0, high=1.0, doc="fractions of bursty sequences"
    )
    p_Cs: tuple[float, ...] = cfglib.field(
        (0.0, 0.25, 0.5), low=0.0, high=1.0, doc="fractions of novel-class sequences (at p_C_K, p_C_B)"
    )
    p_C_K: int = cfglib.field(
        128, low=1, high=1_000_000, doc="classes in the p_C sweep (few: in-weights favoured)"
    )
    p_C_B: int = cfglib.field(2, low=0, doc="burstiness in the p_C sweep")
    K_max: int = cfglib.field(
        0,
        low=0,
        high=1_000_000,
        doc="classes allocated (0 = the largest K of the grids); K may not exceed it",
    )
    num_steps: int = cfglib.field(100_000, low=1, doc="training steps")
    log_every: int = cfglib.field(5000, low=1, doc="steps between evaluations")

    @property
    def K_alloc(self) -> int:
        """Classes allocated for every point: ``K_max`` or the largest class count of the grids."""
        return self.K_max or max(*self.Ks, self.alpha_K, self.p_C_K, self.eps_K or 1)

    def __post_validate__(self):
        if self.K > self.K_alloc:
            raise ConfigError("K_max", self.K_max, f"0 with K <= {self.K_alloc}, or at least K = {self.K}")
        # the base point must be a valid task (B divides N, K a multiple of L, ...)
        cfglib.validate(icl.task_config(self, K_max=self.K_alloc))


PRESETS = {
    # A small task (N = 4 pairs, 8 labels, token dim 24) with lr 0.1, few points per factor and 2 seeds, so
    # that the whole sweep (13 distinct settings x 2 seeds, one compile) trains in a minute or two on a CPU.
    # Each sweep sits where its premise holds at its first value within 1,500 steps: eps at K = 128, where
    # IC and IW compete at eps = 0.1; alpha at K = 2048, B = 2, where the network learns in context at
    # alpha = 0 (with B = 1 most seeds had not yet made the in-context jump); alpha = 1.25 is in the grid
    # because the short budget moves the IC/IW crossing above 1. See the docs page.
    "quick": Config(
        K=256,
        L=8,
        N=4,
        D=15,
        N_max=4,
        eps=0.1,
        B=2,
        Bs=(0, 1, 2, 4),
        Ks=(32, 256, 2048),
        epss=(0.1, 0.6),
        eps_K=128,
        eps_B=2,
        alphas=(0.0, 1.0, 1.25, 2.0),
        alpha_K=2048,
        alpha_B=2,
        p_Bs=(1.0, 0.5),
        p_Cs=(0.0, 0.5),
        p_C_K=32,
        p_C_B=2,
        lr=0.1,
        num_steps=1500,
        log_every=500,
        n_test=500,
        eval_chunk=500,
        n_seeds=2,
    ),
    "paper": Config(),
}


def grid_points(cfg: Config) -> pd.DataFrame:
    """One row per trained grid point: ``sweep`` (the factor varied) and the full task setting."""
    base = {"K": cfg.K, "B": cfg.B, "eps": cfg.eps, "alpha": cfg.alpha, "p_B": cfg.p_B, "p_C": cfg.p_C}
    eps_K = cfg.eps_K or cfg.K
    eps_B = cfg.B if cfg.eps_B < 0 else cfg.eps_B
    base["L"] = cfg.L
    rows = []
    for b in cfg.Bs:
        rows.append({**base, "sweep": "B", "B": b})
    for k in cfg.Ks:
        rows.append({**base, "sweep": "K", "K": k})
    for e in cfg.epss:
        rows.append({**base, "sweep": "eps", "K": eps_K, "B": eps_B, "eps": e})
    for a in cfg.alphas:
        rows.append({**base, "sweep": "alpha", "K": cfg.alpha_K, "B": cfg.alpha_B, "alpha": a})
    for p in cfg.p_Bs:
        rows.append({**base, "sweep": "p_B", "p_B": p})
    for p in cfg.p_Cs:
        rows.append({**base, "sweep": "p_C", "K": cfg.p_C_K, "B": cfg.p_C_B, "p_C": p})
    return pd.DataFrame(rows)


def simulate(config: Config, *, key: jax.Array) -> pd.DataFrame:
    """Final (and logged) IC/IC2/IW accuracies per grid point and seed (one row per point x seed x log).

    Example:
      >>> # df = simulate(PRESETS["quick"], key=jax.random.key(0))
    """
    pts = grid_points(config)
    task = icl.task_config(config, K_max=config.K_alloc)
    tcfg = icl.train_config(config)
    # the base point recurs in several sweeps: train each distinct setting once
    settings = pts[list(ind.TRACEABLE)].drop_duplicates().reset_index(drop=True)
    grid = {k: settings[k].tolist() for k in ind.TRACEABLE}
    for i in range(len(settings)):  # validate every setting concretely (B divides N, K a multiple of L, ...)
        cfglib.validate(
            dataclasses.replace(task, **{k: type(getattr(task, k))(v[i]) for k, v in grid.items()})
        )
    hist = ind.run_vmapped(key, task, ind.NetConfig(), tcfg, points=grid, n_seeds=config.n_seeds)
    index = {tuple(r): i for i, r in enumerate(settings.itertuples(index=False))}
    frames = []
    for i, row in pts.iterrows():
        j = index[tuple(row[list(ind.TRACEABLE)])]
        h = {k: v[j] for k, v in hist.items()}
        frames.append(ind.history_frame(h, point=i, setting=j, **row.to_dict()))
    return pd.concat(frames, ignore_index=True)


SWEEP_VECTORIZED = ind.TRACEABLE
SWEEP_METRICS = ("ic_acc", "ic2_acc", "iw_acc", "ic_loss", "ctx_label_acc", "prev_token", "induction", "loss")


def sweep_point(config: Config, *, key: jax.Array) -> dict[str, jax.Array]:
    """Trains one network at the base point (``K``, ``B``, ``eps``, ``alpha``, ``p_B``, ``p_C``) and returns
    its final test measures (the last logged values of :func:`cogsim.models.induction.run`).

    The base-point fields may be traced, so ``cogsim sweep icl_data_dependence --grid B=0,1,2 --seeds 6``
    trains every point and seed in one vmapped call (classes are allocated for ``K_alloc``).

    Example:
      >>> # cfg = dataclasses.replace(PRESETS["quick"], num_steps=2, log_every=2, n_test=8, eval_chunk=8)
      >>> # sweep_point(cfg, key=jax.random.key(0))["ic_acc"]  # a scalar in [0, 1]
    """
    point = {k: getattr(config, k) for k in ind.TRACEABLE}
    for k in ("K", "B"):  # sweeps pass traced floats
        if not isinstance(point[k], int):
            point[k] = jnp.asarray(point[k]).astype(jnp.int32)
    task = icl.task_config(config, K_max=config.K_alloc, **point)
    _, hist = ind.run(key, task, ind.NetConfig(), icl.train_config(config))
    return {m: hist[m][-1] for m in SWEEP_METRICS}


def reference(config: Config | None = None) -> Reference:
    """Not human data: the qualitative effects reported by Reddy (2024, Figs. 2 and A.1-A.3)."""
    rows = [
        ("B", "ic_acc", "+", "IC accuracy rises with burstiness"),
        ("B", "iw_acc", "-", "IW accuracy falls with burstiness"),
        ("K", "ic_acc", "+", "IC accuracy rises with the number of classes"),
        ("K", "iw_acc", "-", "IW accuracy falls with the number of classes"),
        ("eps", "ic_acc", "+", "IC accuracy rises with within-class noise"),
        ("eps", "iw_acc", "-", "IW accuracy falls with within-class noise"),
        ("alpha", "ic_acc", "-", "IC falls and IW rises with alpha; both are high near alpha ~ 1"),
        ("alpha", "iw_acc", "+", "IC falls and IW rises with alpha; both are high near alpha ~ 1"),
        (
            "p_B",
            "ic_acc",
            "+",
            "with fewer bursty sequences (p_B < 1) the network prefers in-weights learning",
        ),
        ("p_C", "ic_acc", "+", "novel-class sequences (p_C > 0) drive in-context learning"),
    ]
    return Reference(
        pd.DataFrame(rows, columns=["sweep", "measure", "direction", "note"]).assign(
            source="Reddy 2024 (ICLR), Fig. 2 and appendix"
        ),
        kind="none",
        source="Reddy (2024), Chan et al. (2022): qualitative effects, not human data",
    )


def final_table(sim: pd.DataFrame) -> pd.DataFrame:
    """Accuracies at the last logged step: mean and per-seed spread per grid point."""
    last = sim[sim["step"] == sim["step"].max()]
    keys = ["point", "sweep", "K", "B", "eps", "alpha", "p_B", "p_C"]
    g = last.groupby(keys, as_index=False)
    out = g[["ic_acc", "ic2_acc", "iw_acc"]].mean()
    sd = g[["ic_acc", "iw_acc"]].std().rename(columns={"ic_acc": "ic_sd", "iw_acc": "iw_sd"})
    return out.merge(sd, on=keys).sort_values(["sweep", "point"]).reset_index(drop=True)


def _ends(tab: pd.DataFrame, sweep: str, measure: str) -> tuple[float, float, list[float]]:
    t = tab[tab["sweep"] == sweep].sort_values(sweep)
    vals = t[measure].tolist()
    return vals[0], vals[-1], vals


def compare(sim: pd.DataFrame, human: pd.DataFrame) -> cmp.Comparison:
    """Direction of each effect (last grid value minus first, threshold 0.05) and alpha ~ 1 coexistence."""
    tab = final_table(sim)
    metrics, checks = [], []
    for sweep, sign_ic, sign_iw in (("B", 1, -1), ("K", 1, -1), ("eps", 1, -1)):
        if sweep not in set(tab["sweep"]):
            continue
        a0, a1, ics = _ends(tab, sweep, "ic_acc")
        b0, b1, iws = _ends(tab, sweep, "iw_acc")
        metrics.append(cmp.Metric(f"delta_ic_{sweep}", a1 - a0, note=f"IC {[round(v, 3) for v in ics]}"))
        metrics.append(cmp.Metric(f"delta_iw_{sweep}", b1 - b0, note=f"IW {[round(v, 3) for v in iws]}"))
        checks.append(
            cmp.Check(
                f"IC rises with {sweep}",
                bool(sign_ic * (a1 - a0) > 0.05),
                f"IC over {sweep}: {[round(v, 3) for v in ics]}",
            )
        )
        checks.append(
            cmp.Check(
                f"IW falls with {sweep}",
                bool(sign_iw * (b1 - b0) > 0.05),
                f"IW over {sweep}: {[round(v, 3) for v in iws]}",
            )
        )
    if "alpha" in set(tab["sweep"]):
        t = tab[tab["sweep"] == "alpha"].sort_values("alpha")
        ic, iw, al = t["ic_acc"].to_numpy(), t["iw_acc"].to_numpy(), t["alpha"].to_numpy()
        i1 = int(np.argmin(np.abs(al - 1.0)))
        chance = 1.0 / float(sim["L"].iloc[0])
        floor = chance + COEXIST_FRACTION * (1.0 - chance)
        # grid values within ALPHA_NEAR of 1 (else the nearest); the best-balanced one counts
        near = np.flatnonzero(np.abs(al - 1.0) <= ALPHA_NEAR + 1e-9)
        near = near if near.size else np.array([i1])
        ib = near[int(np.argmax(np.minimum(ic[near], iw[near])))]
        both = ic[ib] >= floor and iw[ib] >= floor
        trade = ic[-1] < ic[0] - 0.05 and iw[-1] > iw[0] + 0.05
        metrics.append(cmp.Metric("ic_acc_alpha1", float(ic[i1]), note=f"alpha = {al[i1]}"))
        metrics.append(cmp.Metric("iw_acc_alpha1", float(iw[i1]), note=f"alpha = {al[i1]}"))
        metrics.append(
            cmp.Metric(
                "coexist_alpha",
                float(al[ib]),
                note=f"best-balanced alpha within {ALPHA_NEAR} of 1: IC {ic[ib]:.3f}, IW {iw[ib]:.3f}",
            )
        )
        checks.append(
            cmp.Check(
                f"alpha: IC falls, IW rises; near alpha ~ 1 (within {ALPHA_NEAR}) both are well above chance "
                f"(>= {floor:.3f})",
                bool(both and trade),
                f"alpha {al.tolist()}: IC {np.round(ic, 3).tolist()}, IW {np.round(iw, 3).tolist()}; "
                f"at alpha = {al[ib]} (the best-balanced value within {ALPHA_NEAR} of 1) both must reach "
                f"chance + {COEXIST_FRACTION} (1 - chance) = {floor:.3f}",
            )
        )
    if "p_B" in set(tab["sweep"]):
        t = tab[tab["sweep"] == "p_B"].sort_values("p_B")
        d_ic = float(t["ic_acc"].iloc[-1] - t["ic_acc"].iloc[0])
        d_iw = float(t["iw_acc"].iloc[-1] - t["iw_acc"].iloc[0])
        metrics.append(cmp.Metric("delta_ic_p_B", d_ic, note="IC at p_B max minus min"))
        checks.append(
            cmp.Check(
                "p_B < 1 shifts the network to in-weights (IC up, IW down with p_B)",
                bool(d_ic > 0.05 and d_iw < -0.05),
                f"p_B {t['p_B'].tolist()}: IC {t['ic_acc'].round(3).tolist()}, "
                f"IW {t['iw_acc'].round(3).tolist()}",
            )
        )
    if "p_C" in set(tab["sweep"]):
        t = tab[tab["sweep"] == "p_C"].sort_values("p_C")
        d_ic = float(t["ic_acc"].iloc[-1] - t["ic_acc"].iloc[0])
        metrics.append(cmp.Metric("delta_ic_p_C", d_ic, note="IC at p_C max minus p_C = 0"))
        checks.append(
            cmp.Check(
                "p_C > 0 gives in-context learning",
                bool(d_ic > 0.05),
                f"p_C {t['p_C'].tolist()}: IC {t['ic_acc'].round(3).tolist()}",
            )
        )
    key = "delta_ic_B" if any(m.name == "delta_ic_B" for m in metrics) else metrics[0].name
    return cmp.Comparison(tuple(metrics), tuple(checks), key=key, tables={"final": tab})


def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """One panel per factor: final IC and IW accuracy (mean, per-seed points) against the factor."""
    tab = final_table(sim)
    last = sim[sim["step"] == sim["step"].max()]
    sweeps = [s for s in SWEEPS if s in set(tab["sweep"])]
    fig, axes = plots.panels(len(sweeps), ncols=3, size=(3.6, 2.9))
    for a, s in zip(axes, sweeps, strict=False):
        t = tab[tab["sweep"] == s].sort_values(s)
        pts = last[last["sweep"] == s]
        for m, c in (("ic_acc", "C0"), ("iw_acc", "C3")):
            a.plot(t[s], t[m], "-o", color=c, label=m.replace("_acc", "").upper())
            a.plot(pts[s], pts[m], ".", color=c, alpha=0.35)
        if s == "K":
            a.set_xscale("log", base=2)
        a.set_ylim(0, 1.02)
        a.set_xlabel(s)
        a.set_ylabel("accuracy")
        a.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
