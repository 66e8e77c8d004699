"""Data dependence of in-context vs in-weights learning (Reddy, ICLR 2024; Chan et al., 2022).

A two-layer attention-only network (:mod:`cogsim.models.induction`) is trained on Reddy's classification
task on the paper's full grid of class counts ``K`` x burstiness ``B``, while the other properties of the
data distribution vary one at a time around a base setting: within-class noise ``eps``, the Zipf exponent
``alpha`` of the class frequencies, the fraction of bursty sequences ``p_B`` and the fraction of novel-class
sequences ``p_C``. In-context (IC, novel classes)
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

SWEEPS = ("KxB", "eps", "alpha", "p_B", "p_C")

# Coexistence at alpha ~ 1: at the alpha grid value nearest 1, IC and IW accuracy each cover at least
# COEXIST_FRACTION of the way from chance (1 / L) to perfect (docs/scenarios/icl_data_dependence.md).
COEXIST_FRACTION = 0.25
_BASIS = "docs/scenarios/icl_data_dependence.md: declared before the run"


@dataclasses.dataclass(frozen=True)
class Config(icl.InductionSettings):
    """Base task, the K x B grid, the values swept one factor at a time, and training.

    ``K``, ``B``, ``eps``, ``alpha``, ``p_B`` and ``p_C`` are the base point (:func:`sweep_point` trains one
    network there); ``Ks`` x ``Bs`` is the full grid and the other tuples the one-factor-at-a-time grids of
    :func:`simulate`.
    """

    B: int = cfglib.field(2, low=0, doc="burstiness at the base point")
    alpha: float = cfglib.field(0.0, low=0.0, doc="Zipf exponent at the base point")
    p_B: float = cfglib.field(1.0, low=0.0, high=1.0, doc="fraction of bursty sequences at the base point")
    p_C: float = cfglib.field(
        0.0, low=0.0, high=1.0, doc="fraction of novel-class sequences at the base point"
    )
    Bs: tuple[int, ...] = cfglib.field((0, 1, 2, 4), low=0, doc="burstiness values (K x B grid)")
    Ks: tuple[int, ...] = cfglib.field((128, 256, 512, 2048), low=1, doc="class counts (K x B grid)")
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
    # The paper's K x B grid on a small task (N = 4 pairs, 8 labels, token dim 24) with lr 0.1 and 3 seeds;
    # the other sweeps at the paper preset's anchors with values from its grids (fixed in advance: see the
    # docs page). 22 distinct settings x 3 seeds train in one compiled call.
    "quick": Config(
        K=512,
        L=8,
        N=4,
        D=15,
        N_max=4,
        eps=0.1,
        B=2,
        Bs=(0, 1, 2, 4),
        Ks=(128, 256, 512, 2048),
        epss=(0.1, 0.7),
        alphas=(0.0, 1.0, 1.75),
        alpha_K=1024,
        alpha_B=1,
        p_Bs=(1.0, 0.5),
        p_Cs=(0.0, 0.5),
        p_C_K=128,
        p_C_B=2,
        lr=0.1,
        num_steps=1500,
        log_every=500,
        n_test=500,
        eval_chunk=500,
        n_seeds=3,
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
    for k in cfg.Ks:
        for b in cfg.Bs:
            rows.append({**base, "sweep": "KxB", "K": k, "B": b})
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


_KEYS = ["sweep", "K", "B", "eps", "alpha", "p_B", "p_C"]


def _seed_values(sim: pd.DataFrame, sweep: str, measure: str, **at) -> np.ndarray:
    """Final ``measure`` per seed (sorted by seed) at the point of ``sweep`` where the fields equal ``at``."""
    last = sim[(sim["step"] == sim["step"].max()) & (sim["sweep"] == sweep)]
    for k, v in at.items():
        last = last[np.isclose(last[k].astype(float), float(v))]
    return last.sort_values("seed")[measure].to_numpy(float)


def _paired(name, a, b, *, rule, what, metrics, detail="") -> cmp.Check:
    """A check on the per-seed difference ``a - b`` (paired: seed s shares its key at every point)."""
    d = np.asarray(a, float) - np.asarray(b, float)
    m, lo, hi = cmp.mean_ci(d)
    ci = (lo, hi) if np.isfinite(lo) and np.isfinite(hi) and hi > lo else None
    metrics.append(cmp.Metric(what, m, *(ci or (None, None)), note=detail))
    return cmp.Check.of(
        name,
        value=m,
        ci=ci,
        threshold=0.0,
        rule=rule if ci is not None else rule.removeprefix("ci_"),
        source="declared",
        basis=_BASIS,
        detail=f"per seed {np.round(d, 3).tolist()}" + (f"; {detail}" if detail else ""),
    )


def _ends_checks(sim, sweep, field, lo, hi, *, ic_rule, iw_rule, metrics, label, **at) -> list[cmp.Check]:
    out = []
    for m, rule in (("ic_acc", ic_rule), ("iw_acc", iw_rule)):
        if rule is None:
            continue
        a = _seed_values(sim, sweep, m, **{field: hi}, **at)
        b = _seed_values(sim, sweep, m, **{field: lo}, **at)
        word = "rises" if rule == "ci_above" else "falls"
        out.append(
            _paired(
                f"{m[:2].upper()} {word} with {field}{label} ({field} {hi:g} minus {lo:g})",
                a,
                b,
                rule=rule,
                what=f"delta_{m[:2]}_{field}{label.replace(' ', '').replace('=', '').replace(',', '_')}",
                metrics=metrics,
                detail=f"{m[:2].upper()} {np.round(b, 3).tolist()} -> {np.round(a, 3).tolist()}",
            )
        )
    return out


def compare(sim: pd.DataFrame, human: pd.DataFrame) -> cmp.Comparison:
    """Paired per-seed contrasts with t CIs: the K x B grid (B effect at every K, K effect at every B >= 1),
    eps, alpha (with coexistence at alpha ~ 1), p_B and p_C (rules in the docs page)."""
    tab = final_table(sim)
    sweeps = set(tab["sweep"])
    metrics, checks = [], []
    if "KxB" in sweeps:
        g = tab[tab["sweep"] == "KxB"]
        Ks, Bs = sorted(g["K"].unique()), sorted(g["B"].unique())
        if len(Bs) > 1:
            for k in Ks:
                checks += _ends_checks(
                    sim,
                    "KxB",
                    "B",
                    Bs[0],
                    Bs[-1],
                    ic_rule="ci_above",
                    iw_rule="ci_below",
                    metrics=metrics,
                    label=f" at K = {k}",
                    K=k,
                )
        if len(Ks) > 1:
            for b in Bs:
                if b >= 1:
                    checks += _ends_checks(
                        sim,
                        "KxB",
                        "K",
                        Ks[0],
                        Ks[-1],
                        ic_rule="ci_above",
                        iw_rule="ci_below",
                        metrics=metrics,
                        label=f" at B = {b}",
                        B=b,
                    )
    for sweep, ic_rule, iw_rule in (
        ("eps", "ci_above", "ci_below"),
        ("p_B", "ci_above", "ci_below"),
        ("p_C", "ci_above", None),
    ):
        if sweep in sweeps:
            vals = sorted(tab[tab["sweep"] == sweep][sweep].unique())
            if len(vals) > 1:
                checks += _ends_checks(
                    sim,
                    sweep,
                    sweep,
                    vals[0],
                    vals[-1],
                    ic_rule=ic_rule,
                    iw_rule=iw_rule,
                    metrics=metrics,
                    label="",
                )
    if "alpha" in sweeps:
        al = np.array(sorted(tab[tab["sweep"] == "alpha"]["alpha"].unique()))
        if len(al) > 1:
            checks += _ends_checks(
                sim,
                "alpha",
                "alpha",
                al[0],
                al[-1],
                ic_rule="ci_below",
                iw_rule="ci_above",
                metrics=metrics,
                label="",
            )
        a1 = float(al[int(np.argmin(np.abs(al - 1.0)))])
        chance = 1.0 / float(sim["L"].iloc[0])
        floor = chance + COEXIST_FRACTION * (1.0 - chance)
        ic1 = _seed_values(sim, "alpha", "ic_acc", alpha=a1)
        iw1 = _seed_values(sim, "alpha", "iw_acc", alpha=a1)
        metrics.append(cmp.Metric("ic_acc_alpha1", float(ic1.mean()), note=f"alpha = {a1}"))
        metrics.append(cmp.Metric("iw_acc_alpha1", float(iw1.mean()), note=f"alpha = {a1}"))
        checks.append(
            _paired(
                f"alpha ~ 1: IC and IW coexist (min(IC, IW) at alpha = {a1:g} above {floor:.3f})",
                np.minimum(ic1, iw1),
                np.full(len(ic1), floor),
                rule="ci_above",
                what="coexist_margin_alpha1",
                metrics=metrics,
                detail=f"IC {np.round(ic1, 3).tolist()}, IW {np.round(iw1, 3).tolist()}; floor = chance + "
                f"{COEXIST_FRACTION} (1 - chance)",
            )
        )
    key = metrics[0].name if metrics else None
    if key is None:
        metrics.append(cmp.Metric("n_points", float(len(tab))))
        key = "n_points"
    return cmp.Comparison(tuple(metrics), tuple(checks), key=key, tables={"final": tab})


def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """K x B: final IC and IW accuracy against B, one line per K; then one panel per other factor."""
    tab = final_table(sim)
    last = sim[sim["step"] == sim["step"].max()]
    sweeps = [s for s in SWEEPS if s in set(tab["sweep"])]
    n_panels = len(sweeps) + (1 if "KxB" in sweeps else 0)
    fig, axes = plots.panels(n_panels, ncols=3, size=(3.6, 2.9))
    axes = list(axes)
    if "KxB" in sweeps:
        g = tab[tab["sweep"] == "KxB"]
        for a, m in zip(axes[:2], ("ic_acc", "iw_acc"), strict=True):
            for i, (k, t) in enumerate(g.groupby("K")):
                t = t.sort_values("B")
                a.plot(t["B"], t[m], "-o", color=f"C{i}", label=f"K = {k}")
            a.set_ylim(0, 1.02)
            a.set_xlabel("B")
            a.set_ylabel(m.replace("_acc", "").upper() + " accuracy")
            a.legend(fontsize=7, frameon=False)
        axes = axes[2:]
    for a, s in zip(axes, [s for s in sweeps if s != "KxB"], strict=False):
        t = tab[tab["sweep"] == s].sort_values(s)
        pts = last[last["sweep"] == s]
        for m, c in (("ic_acc", "C0"), ("iw_acc", "C3")):
            a.plot(t[s], t[m], "-o", color=c, label=m.replace("_acc", "").upper())
            a.plot(pts[s], pts[m], ".", color=c, alpha=0.35)
        a.set_ylim(0, 1.02)
        a.set_xlabel(s)
        a.set_ylabel("accuracy")
        a.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
