"""Dual-process learning by weight forgetting (Anand, Lepori, Merullo & Pavlick, ICLR 2025), in Reddy's toy.

The toy network of :mod:`cogsim.models.induction` gets a learned item embedding (a ``D x D`` matrix applied
to the content of item tokens, initialised as a random orthogonal matrix). Three training regimes on a
Zipf-distributed bursty task:

- standard: no resets;
- active forgetting: the item embedding is re-initialised every ``reset_every`` steps for the whole run;
- temporary forgetting: the same resets only while ``step < forget_until``, then normal training.

Measured after training: in-context accuracy on novel classes (IC), in-weights accuracy (IW) on frequent
("head") and rare ("tail") classes, and, for head and tail classes, accuracy on bursty contexts whose labels
are swapped (IC2: scored against the swapped label, i.e. following the context rather than the weights).
Anand et al. report that active forgetting keeps structural in-context learning and removes in-weights
learning, and that temporary forgetting yields in-weights learning for frequent tokens and in-context
learning for rare ones. Their toy setting is a 6-layer BERT (AdamW); here the schedule is applied to the
two-layer toy network with SGD. All conditions and seeds train at once (one vmapped call).

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
from cogsim.models import induction as ind
from cogsim.reference import Reference
from cogsim.scenarios import _induction_settings as icl

DESCRIPTION = "Anand et al. 2025: active/temporary forgetting of item embeddings steers IC vs IW learning"

CONDITIONS = ("standard", "active", "temporary")

#: The paper preset's last measured verdict (docs/scenarios/dual_process.md, "Paper preset").
PAPER_RUN = cmp.PaperRun(
    verdict="demonstration",
    checks_passed="3/4",
    date="2026-12-04",
    commit="eac3d93",
    note="K = 1024, L = 32, N = 8, 60,000 steps, 6 seeds, on a GPU (H200): active forgetting as the paper "
    "says; temporary keeps IW(head) (-0.025 [-0.043, -0.007], margin -0.10) but its IC2(tail) gain over "
    "standard training is not established (+0.033 [-0.031, 0.098])",
)

MEASURES = ("ic_acc", "iw_acc", "iw_head_acc", "iw_tail_acc", "ic2_head_acc", "ic2_tail_acc")


@dataclasses.dataclass(frozen=True)
class Config(icl.InductionSettings):
    """Task, forgetting schedule and training."""

    K: int = cfglib.field(1024, low=1, high=1_000_000, doc="classes")
    B: int = cfglib.field(2, low=1, doc="burstiness")
    p_B: float = cfglib.field(0.9, low=0.0, high=1.0, doc="fraction of bursty sequences")
    alpha: float = cfglib.field(1.2, low=0.0, doc="Zipf exponent (Anand et al.: 0, 1.0001, 1.2, 1.5)")
    head_frac: float = cfglib.field(
        1 / 32, low=0.0, high=1.0, doc="frequent classes: the top head_frac ranks"
    )
    tail_frac: float = cfglib.field(0.5, low=0.0, high=1.0, doc="rare classes: the bottom tail_frac ranks")
    reset_every: int = cfglib.field(10, low=1, doc="steps between item-embedding resets")
    forget_until: int = cfglib.field(2000, low=1, doc="temporary forgetting: resets only before this step")
    num_steps: int = cfglib.field(60_000, low=1, doc="training steps")
    log_every: int = cfglib.field(2000, low=1, doc="steps between evaluations")


PRESETS = {
    # The small task of the other quick presets (token dim 24, 8 labels, N = 4), lr 0.1, 4 seeds (a CI per
    # contrast).
    "quick": Config(
        K=512,
        L=8,
        N=4,
        D=15,
        N_max=4,
        B=2,
        p_B=0.9,
        alpha=1.2,
        reset_every=10,
        forget_until=1000,
        lr=0.1,
        num_steps=2500,
        log_every=250,
        n_test=500,
        eval_chunk=500,
        n_seeds=4,
    ),
    "paper": Config(),
}


def _extra_sets(cfg: Config):
    K = cfg.K
    head = jnp.where(jnp.arange(K) < max(1, round(cfg.head_frac * K)), 0.0, -jnp.inf)
    tail = jnp.where(jnp.arange(K) >= K - max(1, round(cfg.tail_frac * K)), 0.0, -jnp.inf)
    # in-weights tests draw the (non-bursty) context from the other band, so that the query's class never
    # appears in the context and the test cannot be solved in context
    return lambda task: {
        "iw_head": ("iw", head, tail),
        "iw_tail": ("iw", tail, head),
        "ic2_head": ("ic2", head),
        "ic2_tail": ("ic2", tail),
    }


def simulate(config: Config, *, key: jax.Array) -> pd.DataFrame:
    """Learning curves of the three conditions (``condition``, ``seed``, ``step``, accuracies).

    Example:
      >>> # df = simulate(PRESETS["quick"], key=jax.random.key(0))
    """
    task = icl.task_config(config)
    net = ind.NetConfig(item_embedding=True)
    tcfg = icl.train_config(config)
    every = [0, config.reset_every, config.reset_every]
    until = [-1, -1, config.forget_until]
    cfglib.validate(task)
    hist = ind.run_vmapped(
        key,
        task,
        net,
        tcfg,
        points={"alpha": [config.alpha] * 3},
        n_seeds=config.n_seeds,
        schedules=ind.ForgetSchedule(every, until),
        extra_sets=_extra_sets(config),
    )
    frames = [
        ind.history_frame({k: v[i] for k, v in hist.items()}, condition=c, L=config.L)
        for i, c in enumerate(CONDITIONS)
    ]
    out = pd.concat(frames, ignore_index=True)
    out["forget_until"] = config.forget_until
    return out


def reference(config: Config | None = None) -> Reference:
    """Not human data: the qualitative targets of Anand et al. (ICLR 2025)."""
    rows = [
        ("active", "ic_acc", "high", "active forgetting keeps structural in-context learning"),
        ("active", "iw_acc", "chance", "active forgetting removes in-weights learning"),
        ("temporary", "iw_head_acc", "high", "temporary forgetting: in-weights learning for frequent tokens"),
        ("temporary", "ic2_tail_acc", "high", "temporary forgetting: in-context learning for rare tokens"),
    ]
    return Reference(
        pd.DataFrame(rows, columns=["condition", "measure", "target", "note"]).assign(
            source="Anand, Lepori, Merullo & Pavlick, ICLR 2025"
        ),
        kind="none",
        source="Anand et al. (2025): qualitative targets, not human data",
    )


def final_table(sim: pd.DataFrame) -> pd.DataFrame:
    """Mean and per-seed spread of every measure per condition at the last step."""
    last = sim[sim["step"] == sim["step"].max()]
    g = last.groupby("condition")
    mean = g[list(MEASURES)].mean()
    sd = g[list(MEASURES)].std().add_suffix("_sd")
    return mean.join(sd).reindex(list(CONDITIONS)).reset_index()


#: the non-inferiority margin of temporary vs standard IW(head) (declared in docs/scenarios/dual_process.md)
IW_HEAD_MARGIN = 0.10
_BASIS = "docs/scenarios/dual_process.md: declared before the run"


def _per_seed(sim: pd.DataFrame, condition: str, measure: str) -> np.ndarray:
    last = sim[(sim["step"] == sim["step"].max()) & (sim["condition"] == condition)]
    return last.sort_values("seed")[measure].to_numpy(float)


def _ci(lo: float, hi: float) -> tuple[float, float] | None:
    return (lo, hi) if np.isfinite(lo) and np.isfinite(hi) else None


def compare(sim: pd.DataFrame, human: pd.DataFrame) -> cmp.Comparison:
    """Contrasts over seeds (95% Welch CIs): active IC vs chance, active vs standard IW(head), temporary vs
    standard IW(head) (non-inferiority) and IC2(tail)."""
    tab = final_table(sim).set_index("condition")
    L = float(sim["L"].iloc[0])
    metrics = []
    for c in CONDITIONS:
        for m in MEASURES:
            metrics.append(
                cmp.Metric(
                    f"{c}_{m}", float(tab.loc[c, m]), note=f"sd over seeds {float(tab.loc[c, m + '_sd']):.3f}"
                )
            )

    def contrast(name, a, b, *, threshold, rule, what):
        d, lo, hi = cmp.diff_ci(_per_seed(sim, *a), _per_seed(sim, *b))
        ci = _ci(lo, hi)
        metrics.append(cmp.Metric(what, d, *(ci or (None, None)), note=f"{a[0]} minus {b[0]}, {a[1]}"))
        return cmp.Check.of(
            name,
            value=d,
            ci=ci,
            threshold=threshold,
            rule=rule if ci is not None else rule.removeprefix("ci_"),
            source="declared",
            basis=_BASIS,
            detail=f"{a[0]} {np.round(_per_seed(sim, *a), 3).tolist()} vs {b[0]} "
            f"{np.round(_per_seed(sim, *b), 3).tolist()} (per seed)",
        )

    ic = _per_seed(sim, "active", "ic_acc")
    m, lo, hi = cmp.mean_ci(ic - 1 / L)
    ci = _ci(lo, hi)
    metrics.append(
        cmp.Metric("active_ic_minus_chance", m, *(ci or (None, None)), note=f"chance 1/L = {1 / L:.3f}")
    )
    checks = [
        cmp.Check.of(
            "active forgetting keeps in-context learning (IC above chance)",
            value=m,
            ci=ci,
            threshold=0.0,
            rule="ci_above" if ci is not None else "above",
            source="declared",
            basis=_BASIS,
            detail=f"active IC per seed {np.round(ic, 3).tolist()}, chance {1 / L:.3f}",
        ),
        contrast(
            "active forgetting removes in-weights learning (IW(head): active minus standard < 0)",
            ("active", "iw_head_acc"),
            ("standard", "iw_head_acc"),
            threshold=0.0,
            rule="ci_below",
            what="active_minus_standard_iw_head",
        ),
        contrast(
            f"temporary forgetting keeps in-weights learning for frequent classes (IW(head): temporary minus "
            f"standard > -{IW_HEAD_MARGIN})",
            ("temporary", "iw_head_acc"),
            ("standard", "iw_head_acc"),
            threshold=-IW_HEAD_MARGIN,
            rule="ci_above",
            what="temporary_minus_standard_iw_head",
        ),
        contrast(
            "temporary forgetting gives in-context learning for rare classes (IC2(tail): temporary minus "
            "standard > 0)",
            ("temporary", "ic2_tail_acc"),
            ("standard", "ic2_tail_acc"),
            threshold=0.0,
            rule="ci_above",
            what="temporary_minus_standard_ic2_tail",
        ),
    ]
    return cmp.Comparison(
        tuple(metrics),
        tuple(checks),
        key="temporary_minus_standard_ic2_tail",
        tables={"final": tab.reset_index()},
    )


def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """Per condition: learning curves of IC, IW(head), IW(tail), IC2(tail); last panel: final bars."""
    fig, axes = plots.panels(4, ncols=2, size=(4.6, 3.3))
    L = float(sim["L"].iloc[0])
    for a, c in zip(axes[:3], CONDITIONS, strict=False):
        g = sim[sim["condition"] == c].groupby("step", as_index=False).mean(numeric_only=True)
        plots.curve(g, x="step", ys=["ic_acc", "iw_head_acc", "iw_tail_acc", "ic2_tail_acc"], ax=a, title=c)
        if c == "temporary":
            a.axvline(float(sim["forget_until"].iloc[0]), color="gray", ls=":", lw=0.8)
        a.axhline(1 / L, color="gray", ls="--", lw=0.8)
        a.set_ylim(0, 1.02)
    tab = final_table(sim)
    x = np.arange(len(MEASURES))
    w = 0.27
    for i, c in enumerate(CONDITIONS):
        row = tab[tab["condition"] == c]
        axes[3].bar(x + (i - 1) * w, [float(row[m].iloc[0]) for m in MEASURES], w, label=c)
    axes[3].set_xticks(x, [m.replace("_acc", "") for m in MEASURES], rotation=30, fontsize=7)
    axes[3].set_ylim(0, 1.02)
    axes[3].set_title("final accuracy")
    axes[3].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
