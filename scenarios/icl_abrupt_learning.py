"""Abrupt emergence of in-context learning in a two-layer attention-only network (Reddy, ICLR 2024).

The network is trained on bursty sequences of Reddy's classification task (:mod:`cogsim.models.induction`).
In-context (IC) accuracy on novel classes first creeps from ``1/L`` to about ``1/(N/B)`` (the network picks
a label present in the context, at random among them), then jumps to ~1 as an induction head forms: the
layer-0 previous-token attention and the layer-1 induction attention rise at the jump. The three-logit
phenomenological model is fitted to the measured IC loss curve. A second condition, ``L = N = 8`` with
``B = 1``, is the paper's failure case in which no seed learns in context.

These are not human data: :func:`human` returns the paper's qualitative targets.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np
import pandas as pd

from cogsim import compare as cmp
from cogsim import config as cfglib
from cogsim import plots
from cogsim.models import induction as ind
from cogsim.reference import Reference
from cogsim.scenarios import _induction_settings as icl

DESCRIPTION = "Reddy 2024: plateau then abrupt jump of in-context accuracy as an induction head forms"

METRICS = (
    "ic_acc",
    "ic2_acc",
    "iw_acc",
    "ic_loss",
    "ctx_label_acc",
    "ctx_label_mass",
    "prev_token",
    "induction",
    "loss",
    "acc",
)


@dataclasses.dataclass(frozen=True)
class Config(icl.InductionSettings):
    """Task, training and the failure case. Defaults: the paper's setting of Fig. 1d (B = 2, K = 512)."""

    B: int = cfglib.field(2, low=1, doc="burstiness")
    p_B: float = cfglib.field(1.0, low=0.0, high=1.0, doc="fraction of bursty sequences")
    p_C: float = cfglib.field(0.0, low=0.0, high=1.0, doc="fraction of novel-class sequences")
    alpha: float = cfglib.field(0.0, low=0.0, doc="Zipf exponent")
    num_steps: int = cfglib.field(100_000, low=1, doc="training steps")
    log_every: int = cfglib.field(1000, low=1, doc="steps between evaluations")
    failure_case: bool = cfglib.field(True, doc="also train the L = N = 8, B = 1 failure case")
    failure_K: int = cfglib.field(
        512, low=8, high=1_000_000, doc="classes in the failure case (a multiple of 8)"
    )

    def __post_validate__(self):
        cfglib.validate(icl.task_config(self))  # the main task (K a multiple of L, B divides N, ...)
        if self.failure_case and self.failure_K % 8:  # the failure case has L = 8 labels
            raise cfglib.ConfigError(
                "failure_K", self.failure_K, "a multiple of 8 (the failure case's L = 8)"
            )


PRESETS = {
    # A smaller task (N = 4 pairs, B = 1, 16 labels, token dim 24 instead of 128), a larger learning rate
    # (0.1) and many classes (in-weights learning is then slow) so that the jump happens within ~2,500 steps
    # on a CPU. See docs/scenarios/icl_abrupt_learning.md.
    "quick": Config(
        K=1024,
        L=16,
        N=4,
        B=1,
        D=15,
        N_max=4,
        lr=0.1,
        num_steps=2500,
        log_every=100,
        n_test=500,
        eval_chunk=500,
        n_seeds=2,
        failure_K=1024,
    ),
    "paper": Config(),
}


def _tasks(cfg: Config) -> tuple[ind.TaskConfig, ind.TrainConfig]:
    return icl.task_config(cfg), icl.train_config(cfg)


def _train(key, task, tcfg, n_seeds) -> dict[str, np.ndarray]:

    cfglib.validate(task)
    f = jax.jit(jax.vmap(lambda k: ind.run(k, task, ind.NetConfig(), tcfg)[1]))
    keys = jax.vmap(lambda s: jax.random.fold_in(key, s))(np.arange(n_seeds))
    return {k: np.asarray(v) for k, v in f(keys).items()}


def simulate(config: Config, *, key: jax.Array) -> pd.DataFrame:
    """Learning curves per seed (``condition`` main / failure) plus the phenomenological fit.

    Example:
      >>> # df = simulate(PRESETS["quick"], key=jax.random.key(0))
    """
    task, tcfg = _tasks(config)
    frames = []
    hist = _train(jax.random.fold_in(key, 0), task, tcfg, config.n_seeds)
    main = ind.history_frame(hist, condition="main", n_ctx=task.n_ctx_classes, L=task.L)
    frames.append(main)
    if config.failure_case:
        ftask = dataclasses.replace(task, L=8, N=8, B=1, K=config.failure_K, N_max=max(task.N_max, 8))
        fh = _train(jax.random.fold_in(key, 1), ftask, tcfg, config.n_seeds)
        frames.append(ind.history_frame(fh, condition="failure_L8_N8_B1", n_ctx=ftask.n_ctx_classes, L=8))
    # phenomenological model fitted to the seed-mean IC loss of the main condition
    mean = main.groupby("step", as_index=False)["ic_loss"].mean()
    fit = ind.fit_phenomenological(mean["step"], mean["ic_loss"], N=task.N, L=task.L)
    frames.append(
        pd.DataFrame(
            {
                "seed": -1,
                "step": fit.steps,
                "ic_loss": fit.fitted,
                "condition": "phenomenological",
                "n_ctx": task.n_ctx_classes,
                "L": task.L,
                "pheno_beta1_0": fit.beta1_0,
                "pheno_a_0": fit.a_0,
                "pheno_xi_0": fit.xi_0,
                "pheno_lr": fit.lr,
                "pheno_rmse": fit.rmse,
            }
        )
    )
    return pd.concat(frames, ignore_index=True)


def reference(config: Config | None = None) -> Reference:
    """Not human data: the paper's qualitative targets (values as stated in the text, approximate)."""
    return Reference(
        pd.DataFrame(
            [
                {
                    "measure": "ic_acc_final",
                    "value": 1.0,
                    "source": "Reddy 2024, Fig. 1d",
                    "note": "IC accuracy reaches ~100% after the jump",
                },
                {
                    "measure": "plateau_ic_acc_times_n_ctx",
                    "value": 1.0,
                    "source": "Reddy 2024, Sec. 4",
                    "note": "before the jump IC accuracy sits near chance among the labels in the context",
                },
                {
                    "measure": "failure_ic_acc_final_max",
                    "value": 1.0 / 8,
                    "source": "Reddy 2024, Fig. A.5 (check)",
                    "note": "with L = N = 8, B = 1 no seed learns in context (IC stays near chance 1/L)",
                },
            ]
        ),
        kind="none",
        source="Reddy (2024): the paper's targets, not human data",
    )


# ------------------------------------------------------------------------------------------------ analysis
def _nanmedian(x) -> float:
    x = np.asarray(x, float)
    return float(np.median(x[np.isfinite(x)])) if np.isfinite(x).any() else math.nan


def _first(steps, mask) -> float:
    hit = np.nonzero(np.asarray(mask))[0]
    return float(np.asarray(steps)[hit[0]]) if hit.size else math.nan


def seed_summary(sim: pd.DataFrame) -> pd.DataFrame:
    """Per seed of the main condition: plateau, crossing steps of IC accuracy and induction score."""
    rows = []
    main = sim[sim["condition"] == "main"]
    for seed, g in main.groupby("seed"):
        g = g.sort_values("step")
        s = g["step"].to_numpy()
        ic = g["ic_acc"].to_numpy()
        n_ctx = float(g["n_ctx"].iloc[0])
        chance_ctx = 1.0 / n_ctx
        plateau_hi = chance_ctx + 0.1
        t_leave = _first(s, ic > plateau_hi)  # leaves the plateau
        t_90 = _first(s, ic >= 0.9)
        t_mid = _first(s, ic >= (chance_ctx + 1.0) / 2)
        on_plateau = (g["ctx_label_acc"].to_numpy() >= 0.5) & (ic <= plateau_hi)
        if not math.isnan(t_leave):
            on_plateau &= s < t_leave
        plateau = float(np.median(ic[on_plateau])) if on_plateau.any() else math.nan
        indc = g["induction"].to_numpy()
        ind_mid = _first(s, indc >= (indc[0] + indc[-1]) / 2) if indc[-1] > indc[0] else math.nan
        prev = g["prev_token"].to_numpy()
        rows.append(
            {
                "seed": seed,
                "plateau_ic_acc": plateau,
                "n_ctx": n_ctx,
                "t_leave_plateau": t_leave,
                "t_ic_mid": t_mid,
                "t_ic_90": t_90,
                "t_induction_mid": ind_mid,
                "ic_acc_final": float(ic[-1]),
                "induction_start": float(indc[0]),
                "induction_final": float(indc[-1]),
                "prev_token_final": float(prev[-1]),
                "prev_token_min": float(prev.min()),
                "iw_acc_final": float(g["iw_acc"].iloc[-1]),
            }
        )
    return pd.DataFrame(rows)


_BASIS = "docs/scenarios/icl_abrupt_learning.md: declared before the run"

#: The paper preset's last measured result (2 of its 6 seeds, no failure case; docs page, "paper preset").
PAPER_RUN = cmp.PaperRun(
    verdict="demonstration",
    checks_passed="1/5",
    date="2026-11-29",
    commit="af5ec7c",
    note="K = 512, B = 2 (Reddy Fig. 1d), 2 of 6 seeds, 100k steps: IC rises gradually to 0.54, no abrupt "
    "jump; only the plateau check passed (checks of the earlier, seed-counting form)",
)


def _summary_check(name: str, values, *, threshold, rule: str, detail: str) -> cmp.Check:
    """A check on the mean of per-seed values with its t CI (none when the seeds agree exactly)."""
    v = np.asarray(values, float)
    if not np.all(np.isfinite(v)):  # a seed never reached a crossing: the quantity is undefined
        m, ci = math.nan, None
    else:
        m, lo, hi = cmp.mean_ci(v)
        ci = (lo, hi) if math.isfinite(lo) and math.isfinite(hi) and hi > lo else None
    if ci is None:
        rule = {"ci_above": "above", "ci_below": "below", "ci_within": "within"}[rule]
    return cmp.Check.of(
        name, value=m, ci=ci, threshold=threshold, rule=rule, source="declared", basis=_BASIS, detail=detail
    )


def compare(sim: pd.DataFrame, human: pd.DataFrame) -> cmp.Comparison:
    """Checks the plateau, the abrupt jump, the induction score at the jump, the failure case and the fit."""
    per = seed_summary(sim)
    main = sim[sim["condition"] == "main"]
    log_every = float(np.diff(np.sort(main["step"].unique()))[0])
    ic_final = per["ic_acc_final"].to_numpy()
    est, lo, hi = (
        cmp.bootstrap_ci(ic_final, np.mean, n_boot=500)
        if len(ic_final) > 1
        else (float(ic_final[0]), None, None)
    )
    n_ctx = float(per["n_ctx"].iloc[0])
    metrics = [
        cmp.Metric("ic_acc_final", est, lo, hi, human=1.0, note="mean over seeds, novel classes"),
        cmp.Metric(
            "plateau_ic_acc",
            float(np.nanmedian(per["plateau_ic_acc"])) if per["plateau_ic_acc"].notna().any() else math.nan,
            human=1.0 / n_ctx,
            note="median over seeds; 1/(N/B) = chance among context labels",
        ),
        cmp.Metric("t_ic_mid", _nanmedian(per["t_ic_mid"]), note="steps to IC midpoint"),
        cmp.Metric(
            "t_induction_mid",
            _nanmedian(per["t_induction_mid"]),
            note="steps to the induction-score midpoint",
        ),
        cmp.Metric("iw_acc_final", float(per["iw_acc_final"].mean())),
        cmp.Metric("prev_token_final", float(per["prev_token_final"].mean())),
        cmp.Metric("induction_final", float(per["induction_final"].mean())),
    ]
    checks = [
        _summary_check(
            "IC accuracy ends above 0.9",
            ic_final,
            threshold=0.9,
            rule="ci_above",
            detail=f"final IC per seed {np.round(ic_final, 3).tolist()}",
        ),
        _summary_check(
            "plateau near 1/(N/B) while context labels are already chosen (plateau x N/B in [0.5, 1.5])",
            per["plateau_ic_acc"] * n_ctx,
            threshold=(0.5, 1.5),
            rule="ci_within",
            detail=f"plateau IC per seed {per['plateau_ic_acc'].round(3).tolist()} "
            f"vs 1/(N/B) = {1 / n_ctx:.3f}",
        ),
    ]
    rise = (per["t_ic_90"] - per["t_leave_plateau"]) / per["t_leave_plateau"]
    checks.append(
        _summary_check(
            "abrupt jump: plateau to 0.9 in under half the time spent before it",
            rise,
            threshold=0.5,
            rule="ci_below",
            detail=f"leave plateau at {per['t_leave_plateau'].tolist()}, "
            f"reach 0.9 at {per['t_ic_90'].tolist()}",
        )
    )
    tol = np.maximum(2 * log_every, 0.25 * per["t_ic_mid"])
    checks.append(
        _summary_check(
            "induction score rises at the jump (|induction - IC midpoint| within max(2 logs, 25%))",
            (per["t_induction_mid"] - per["t_ic_mid"]).abs() / tol,
            threshold=1.0,
            rule="ci_below",
            detail=f"IC midpoint {per['t_ic_mid'].tolist()}, "
            f"induction midpoint {per['t_induction_mid'].tolist()}",
        )
    )
    fail = sim[sim["condition"] == "failure_L8_N8_B1"]
    if len(fail):
        last = fail[fail["step"] == fail["step"].max()]["ic_acc"]
        metrics.append(
            cmp.Metric(
                "failure_ic_acc_final_max",
                float(last.max()),
                human=1.0 / 8,
                note="L = N = 8, B = 1; best seed",
            )
        )
        checks.append(
            _summary_check(
                "L = N = 8, B = 1: no in-context learning (final IC below 0.5)",
                last.to_numpy(),
                threshold=0.5,
                rule="ci_below",
                detail=f"final IC per seed {np.round(last.to_numpy(float), 3).tolist()}",
            )
        )
    ph = sim[sim["condition"] == "phenomenological"]
    if len(ph):
        mean = main.groupby("step", as_index=False)["ic_loss"].mean().sort_values("step")
        fitted = ph.sort_values("step")
        rmse = float(fitted["pheno_rmse"].iloc[0])
        lo_l, hi_l = mean["ic_loss"].iloc[-1], mean["ic_loss"].iloc[0]
        mid = (lo_l + hi_l) / 2
        t_meas = _first(mean["step"], mean["ic_loss"] <= mid)
        t_fit = _first(fitted["step"], fitted["ic_loss"] <= mid)
        metrics.append(cmp.Metric("pheno_rmse", rmse, note="three-logit model vs mean IC loss (nats)"))
        metrics.append(cmp.Metric("pheno_t_mid", t_fit, note=f"measured {t_meas}"))
        checks.append(
            cmp.Check.of(
                "phenomenological model matches the jump time (within 20%)",
                value=abs(t_fit - t_meas) / max(0.2 * t_meas, 2 * log_every),
                threshold=1.0,
                rule="below",
                source="declared",
                basis=_BASIS,
                detail=f"loss midpoint: fit {t_fit}, measured {t_meas}; RMSE {rmse:.3f}",
            )
        )
    return cmp.Comparison(tuple(metrics), tuple(checks), key="ic_acc_final", tables={"per_seed": per})


def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """Four panels: accuracies, progress measures, IC loss with the phenomenological fit, failure case."""
    fig, axes = plots.panels(4, ncols=2, size=(4.6, 3.3))
    main = sim[sim["condition"] == "main"]
    mean = main.groupby("step", as_index=False).mean(numeric_only=True)
    n_ctx = float(main["n_ctx"].iloc[0])
    L = float(main["L"].iloc[0])
    a = axes[0]
    for _, g in main.groupby("seed"):
        a.plot(g["step"], g["ic_acc"], color="C0", alpha=0.25, lw=0.8)
    plots.curve(
        mean,
        x="step",
        ys=["ic_acc", "ic2_acc", "iw_acc", "ctx_label_acc"],
        ax=a,
        title="accuracy (mean over seeds)",
    )
    a.axhline(1 / n_ctx, color="gray", ls=":", lw=0.8)
    a.axhline(1 / L, color="gray", ls="--", lw=0.8)
    a.set_ylim(0, 1.02)
    plots.curve(
        mean, x="step", ys=["prev_token", "induction", "ic_acc"], ax=axes[1], title="progress measures"
    )
    b = axes[2]
    b.plot(mean["step"], mean["ic_loss"], "o", ms=3, color="C0", label="network IC loss")
    ph = sim[sim["condition"] == "phenomenological"].sort_values("step")
    if len(ph):
        b.plot(ph["step"], ph["ic_loss"], "-", color="C3", label="three-logit model fit")
    b.set_xlabel("step")
    b.set_title("IC loss and phenomenological fit")
    b.legend(fontsize=7, frameon=False)
    c = axes[3]
    fail = sim[sim["condition"] == "failure_L8_N8_B1"]
    for seed, g in fail.groupby("seed"):
        c.plot(g["step"], g["ic_acc"], label=f"seed {seed}")
    if len(fail):
        c.axhline(1 / 8, color="gray", ls="--", lw=0.8)
        c.legend(fontsize=7, frameon=False)
    else:
        c.text(0.5, 0.5, "not trained\n(failure_case=False)", ha="center", va="center", transform=c.transAxes)
    c.set_ylim(0, 1.02)
    c.set_xlabel("step")
    c.set_title("IC accuracy, L = N = 8, B = 1")
    fig.tight_layout()
    return fig
