"""The comparison and figure of the ``search_rt_distributions`` scenario (checks in its docs page)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cogsim import compare as cmp
from cogsim.comparison import CEILING_METRIC, Check
from cogsim.scenarios import _search_rt_eccnet as _eccnet
from cogsim.scenarios import _search_rt_measures as ms

HARD_TASKS = ("conjunction", "spatial_configuration")
COLUMNS = ["task", "subject", "set_size", "target_present", "correct", "rt_ms"]
DOCS = "docs/scenarios/search_rt_distributions.md"
LABELS = {"cgs": "CGS", "eccnet": "eccNET"}  # models scored by checks 1-3
TASK_ORDER = ("feature", "conjunction", "spatial_configuration")


def _who(frame: pd.DataFrame):
    """The pivot index of one task's participants: ``subject``, or ``experiment, subject``."""
    return ["experiment", "subject"] if "experiment" in frame.columns else "subject"


def _slope_pairs(slopes: pd.DataFrame, task: str) -> pd.DataFrame:
    s = slopes[slopes.task == task].pivot_table(index=_who(slopes), columns="target_present", values="slope")
    return s.dropna().rename(columns={1: "present", 0: "absent"})


def _ratio(pairs: pd.DataFrame, n_boot: int, level: float):
    """Mean absent slope / mean present slope over participants, with its bootstrap CI.

    All NaN without a participant who has both slopes; with one participant, the estimate and a NaN CI
    (nothing to resample), as the slopes' own metrics."""
    if len(pairs) < 1 or not {"present", "absent"} <= set(pairs.columns):
        return np.nan, np.nan, np.nan
    stat = lambda d: float(np.mean(d[:, 1]) / np.mean(d[:, 0]))  # noqa: E731
    return cmp.bootstrap_ci(pairs[["present", "absent"]].to_numpy(), stat, n_boot=n_boot, level=level)


def _extreme_diff(cells: pd.DataFrame, task: str, tp: int, col: str) -> np.ndarray:
    c = cells[(cells.task == task) & (cells.target_present == tp)]
    p = c.pivot_table(index=_who(c), columns="set_size", values=col)
    return (p[p.columns.max()] - p[p.columns.min()]).dropna().to_numpy() if p.shape[1] >= 2 else np.array([])


def _ci(x) -> tuple[float, float]:
    """The CI of an ``(estimate, low, high)`` triple (NaN where it cannot be computed: the check fails)."""
    return float(x[1]), float(x[2])


def _group_cells(cells: pd.DataFrame, level: float) -> pd.DataFrame:
    rows = []
    for (task, n, tp), g in cells.groupby(["task", "set_size", "target_present"]):
        m, lo, hi = cmp.mean_ci(g.mean_rt, level=level)
        e, elo, ehi = cmp.mean_ci(g.error_rate, level=level)
        rows.append(
            dict(task=task, set_size=n, target_present=tp, mean_rt=m, rt_low=lo, rt_high=hi, error_rate=e,
                 error_low=elo, error_high=ehi, sd_rt=float(g.sd_rt.mean()))
        )  # fmt: skip
    return pd.DataFrame(rows)


def _mean_quantiles(q: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in q.columns if c.startswith("q")]
    return q.groupby(["task", "set_size", "target_present"])[cols].mean().reset_index()


def _columns(human: pd.DataFrame) -> list[str]:
    return COLUMNS + (["experiment"] if "experiment" in human.columns else [])


def compare(
    sim: pd.DataFrame,
    human: pd.DataFrame,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    hard_tasks: tuple[str, ...] = HARD_TASKS,
    models: tuple[str, ...] | None = None,
    tasks: tuple[str, ...] = (),
):
    """Human measures, each model's measures, and the checks of docs/scenarios/search_rt_distributions.md.

    ``hard_tasks``: the tasks scored by checks 1-3. ``models`` and ``tasks`` (the run's config fields; the
    runner passes them) and ``human.attrs["tasks_not_fitted"]`` (written by :func:`reference`, kept in
    human.parquet, so a later ``cogsim compare`` needs no data file) let the comparison name what was not
    scored: the data's tasks that ``tasks`` left out, checks 1-3 not run (a task outside ``hard_tasks``) and
    tasks eccNET cannot search. Each such note is a metric ``note.*`` whose value is the count and whose note
    says what and why. A check the data cannot decide (one participant, one set size) is reported not
    tested, with the reason in its detail."""
    rt_range = (float(human.rt_min_ms.iloc[0]), float(human.rt_max_ms.iloc[0]))
    cols = _columns(human)
    h = human[cols]
    notes = _notes(h, hard_tasks, models, list(human.attrs.get("tasks_not_fitted", ())), tasks, rt_range)
    tasks = sorted(h.task.unique())
    metrics, checks, tables = [], [], {}
    hcells = ms.cell_stats(h, rt_range)
    hslopes = ms.unit_slopes(hcells)
    tables["human_cells"] = _group_cells(hcells, level)
    human_ratio = {}
    for task in tasks:
        pairs = _slope_pairs(hslopes, task)
        for col in ("present", "absent"):
            if col in pairs:
                m, lo, hi = cmp.mean_ci(pairs[col], level=level)
                metrics.append(cmp.Metric(f"human.{task}.slope_{col}", m, lo, hi, note="ms/item"))
        human_ratio[task] = _ratio(pairs, n_boot, level)
        metrics.append(cmp.Metric(f"human.{task}.slope_ratio", *human_ratio[task], note="absent/present"))
    for name, r in ms.split_half_reliability(h, rt_range).items():
        metrics.append(cmp.Metric(f"human.split_half.{name}", r, note="Spearman-Brown, odd vs even trials"))
    half_mad = ms.split_half_mad(h, rt_range)
    hq = ms.unit_quantiles(h, rt_range)
    tables["human_quantiles"] = _mean_quantiles(hq)
    model_mads = {}
    trials = sim[sim.kind == "trial"]
    for name in trials.model.drop_duplicates():
        m = trials[trials.model == name][cols]
        cells = ms.cell_stats(m, rt_range)
        slopes = ms.unit_slopes(cells)
        tables[f"{name}_cells"] = _group_cells(cells, level)
        mq = ms.unit_quantiles(m, rt_range)
        tables[f"{name}_quantiles"] = _mean_quantiles(mq)
        for task in tasks:
            pairs = _slope_pairs(slopes, task)
            for col in ("present", "absent"):
                if col in pairs:
                    hm = [x for x in metrics if x.name == f"human.{task}.slope_{col}"]
                    v = cmp.mean_ci(pairs[col], level=level)
                    metrics.append(
                        cmp.Metric(f"{name}.{task}.slope_{col}", *v, human=hm[0].value if hm else None)
                    )
            ratio = _ratio(pairs, n_boot, level)
            metrics.append(cmp.Metric(f"{name}.{task}.slope_ratio", *ratio, human=human_ratio[task][0]))
            if name in LABELS and task in hard_tasks:
                checks += _model_checks(LABELS[name], task, ratio, human_ratio[task], cells, hcells, level)
        if name == "eccnet":
            checks += _ordering_checks(slopes, hslopes, tasks, level)
        mad = ms.quantile_mad(mq, hq)
        model_mads[name] = mad
        frac = (half_mad / mad[mad > 0]).dropna()
        v = cmp.mean_ci(frac.to_numpy(), level=level)
        metrics.append(
            cmp.Metric(f"{name}.quantile_fit", *v, note="split-half MAD / model MAD, per participant")
        )
        if name == "cgs":
            metrics.append(
                cmp.Metric(CEILING_METRIC, *v, note="CGS: split-half MAD / model MAD, mean over participants")
            )  # fmt: skip
        if name in LABELS:
            tested = len(frac) > 1
            checks.append(
                Check.of(
                    f"{LABELS[name]} quantile fit per participant reaches half the split-half noise ceiling",
                    value=v[0], ci=_ci(v), threshold=0.5, rule="ci_above", source="declared",
                    basis=f"{DOCS}, check 4", kind="agreement", tested=tested,
                    detail=f"{v[0]:.2f} [{v[1]:.2f}, {v[2]:.2f}] over {len(frac)} participants",
                    why_untested=f"{len(frac)} participants with a model MAD: a t CI needs 2",
                )
            )  # fmt: skip
    if {"cgs", "serial"} <= set(model_mads):
        d = pd.concat([model_mads["cgs"], model_mads["serial"]], axis=1).dropna()
        v = cmp.paired_bootstrap_diff(d[0].to_numpy(), d[1].to_numpy(), n_boot=n_boot, level=level)
        metrics.append(cmp.Metric("cgs_minus_serial.quantile_mad_ms", *v, note="paired over participants"))
        tested = len(d) > 1
        checks.append(
            Check.of(
                "CGS fits RT quantiles better than serial self-terminating search",
                value=v[0], ci=_ci(v), threshold=0.0, rule="ci_below", source="declared",
                basis=f"{DOCS}, check 5", kind="agreement", tested=tested,
                detail=f"{v[0]:.1f} [{v[1]:.1f}, {v[2]:.1f}] ms",
                why_untested=f"{len(d)} participant: a participant bootstrap needs at least 2",
            )
        )  # fmt: skip
    fits = sim[sim.kind == "fit"]
    if len(fits):
        tables["fits"] = fits.groupby("model")[["loglik", "aic", "bic", "n_trials"]].sum().reset_index()
    metrics += notes
    key = CEILING_METRIC if "cgs" in model_mads else None
    return cmp.Comparison(tuple(metrics), tuple(checks), key=key, tables=tables)


def _notes(h: pd.DataFrame, hard_tasks, models, left: list, tasks, rt_range) -> list[cmp.Metric]:
    """What the comparison does not score, and why (see :func:`compare`); none for the packaged data's
    default run. ``left``: the data's tasks the ``tasks`` field left out."""
    out = []
    if left:
        why = f"tasks of the data not fitted or scored (not in tasks={tuple(tasks)}): {left}"
        out.append(cmp.Metric("note.tasks_not_fitted", float(len(left)), note=why))
    fitted = list(h.task.drop_duplicates())
    easy = [t for t in fitted if t not in hard_tasks and t != "feature"]  # feature: easy by design
    if easy:
        out.append(
            cmp.Metric("note.checks_1_3_not_run", float(len(easy)),
                       note=f"checks 1-3 (slope ratio, RT spread growth, misses) not run for {easy}: not in "
                       f"hard_tasks={tuple(hard_tasks)} (set hard_tasks to score them)")
        )  # fmt: skip
    if models is not None and "eccnet" in models:
        no_displays = [t for t in fitted if t not in TASK_ORDER]
        no_rule = {t: _eccnet.why_no_rule(h[h.task == t], rt_range) for t in fitted if t in TASK_ORDER}
        no_rule = {t: why for t, why in no_rule.items() if why}
        parts = [f"{no_displays}: displays exist only for {list(TASK_ORDER)}"] if no_displays else []
        parts += [f"{t!r}: its quitting rule has nothing to fit, {why}" for t, why in no_rule.items()]
        if parts:
            why = f"eccNET not run for {'; '.join(parts)}"
            out.append(cmp.Metric("note.eccnet_not_run", float(len(no_displays) + len(no_rule)), note=why))
    return out


def _ordering_checks(slopes, hslopes, tasks, level) -> list[Check]:
    """eccNET's target-present slopes: feature < conjunction < spatial configuration (check 6)."""
    out = []
    pairs = [(a, b) for a, b in zip(TASK_ORDER, TASK_ORDER[1:], strict=False) if {a, b} <= set(tasks)]
    for lo, hi in pairs:
        a, b = (_slope_pairs(slopes, t).get("present", pd.Series(dtype=float)).to_numpy() for t in (hi, lo))
        ha, hb = (_slope_pairs(hslopes, t).get("present", pd.Series(dtype=float)).mean() for t in (hi, lo))
        tested = len(a) > 1 and len(b) > 1
        v = cmp.diff_ci(a, b, level=level) if tested else (np.nan,) * 3
        out.append(
            Check.of(
                f"eccNET target-present slope: {hi} steeper than {lo}", value=v[0], ci=_ci(v), threshold=0.0,
                rule="ci_above", source="declared", basis=f"{DOCS}, check 6", tested=tested,
                detail=f"model {v[0]:.1f} [{v[1]:.1f}, {v[2]:.1f}] ms/item, human {ha - hb:.1f}",
                why_untested=f"{len(b)} and {len(a)} participants with a slope in {lo} and {hi}",
            )
        )  # fmt: skip
    return out


def _model_checks(label, task, ratio, human_ratio, cells, hcells, level) -> list[Check]:
    out = []
    hci = _ci(human_ratio)
    g = hcells[hcells.task == task]
    n_sizes = g.set_size.nunique()
    # the human ratio's CI is the threshold: none without two participants with both slopes
    kinds = set(g.target_present.unique())
    lacking = [f"no target-{w} trials" for tp, w in ((1, "present"), (0, "absent")) if tp not in kinds]
    why = (f"one set size (N = {g.set_size.iloc[0]:g}): no slopes" if n_sizes < 2
           else f"{' and '.join(lacking)}: no absent/present slope ratio" if lacking
           else "the human ratio has no CI (a bootstrap needs at least 2 participants)")  # fmt: skip
    tested = bool(np.all(np.isfinite(hci)))
    out.append(
        Check.of(
            f"{task}: {label} absent/present slope ratio overlaps the human CI",
            value=ratio[0], ci=_ci(ratio), threshold=hci, rule="ci_overlaps", source="declared",
            basis=f"{DOCS}, check 1", tested=tested,
            detail=f"model {ratio[0]:.2f} [{ratio[1]:.2f}, {ratio[2]:.2f}], human {human_ratio[0]:.2f}",
            why_untested=why,
        )
    )  # fmt: skip
    for name, tp, col, n in (("RT spread (absent) grows with set size", 0, "sd_rt", 2),
                              ("misses rise with set size", 1, "error_rate", 3)):  # fmt: skip
        d = _extreme_diff(cells, task, tp, col)
        hd = _extreme_diff(hcells, task, tp, col)
        v = cmp.mean_ci(d, level=level)
        hv = cmp.mean_ci(hd, level=level)[0]
        tested = len(d) > 1
        kind = "present" if tp else "absent"
        why = (f"one set size (N = {g.set_size.iloc[0]:g}): no contrast" if n_sizes < 2
               else f"no target-{kind} trials: no contrast" if tp not in kinds
               else f"{len(d)} participant: a t CI needs at least 2")  # fmt: skip
        out.append(
            Check.of(
                f"{task}: {label} {name}", value=v[0], ci=_ci(v), threshold=0.0, rule="ci_above",
                source="declared", basis=f"{DOCS}, check {n}", tested=tested,
                detail=f"model {v[0]:.3g} [{v[1]:.3g}, {v[2]:.3g}], human {hv:.3g}", why_untested=why,
            )
        )  # fmt: skip
    return out


def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """RT by set size per task (human and models), quantile-probability plots (human and CGS), slopes."""
    from cogsim import plots

    rt_range = (float(human.rt_min_ms.iloc[0]), float(human.rt_max_ms.iloc[0]))
    cols = _columns(human)
    h = human[cols]
    tasks = sorted(h.task.unique())
    fig, axes = plots.panels(2 * len(tasks) + 1, ncols=len(tasks))
    hc = _group_cells(ms.cell_stats(h, rt_range), 0.95)
    trials = sim[sim.kind == "trial"]
    models = list(trials.model.drop_duplicates())
    mcells = {m: _group_cells(ms.cell_stats(trials[trials.model == m][cols], rt_range), 0.95) for m in models}
    styles = {"cgs": "-", "serial": "--", "parallel": ":", "eccnet": "-."}
    for i, task in enumerate(tasks):
        a = axes[i]
        for tp, c in ((1, "C0"), (0, "C3")):
            g = hc[(hc.task == task) & (hc.target_present == tp)]
            a.errorbar(g.set_size, g.mean_rt, [g.mean_rt - g.rt_low, g.rt_high - g.mean_rt], fmt="o", color=c,
                       label=f"human {'present' if tp else 'absent'}")  # fmt: skip
            for m in models:
                mg = mcells[m][(mcells[m].task == task) & (mcells[m].target_present == tp)]
                a.plot(mg.set_size, mg.mean_rt, styles.get(m, "-"), color=c, lw=1, label=m if tp else None)
        a.set(title=f"{task}: mean correct RT", xlabel="set size", ylabel="ms")
        a.legend(fontsize=6, frameon=False)
        a = axes[len(tasks) + i]
        for frame, mk in ((h, "o"), (trials[trials.model == "cgs"][cols], "x")):
            if not len(frame):
                continue
            f = frame[frame.task == task]
            acc = f.groupby(["set_size", "target_present"]).correct.mean()
            q = (
                ms.correct_rts(f, rt_range)
                .groupby(["set_size", "target_present"])
                .rt_ms.quantile(list(ms.QUANTILES))
            )
            for (n, tp), p in acc.items():
                if (n, tp) not in q.index:  # no correct RT in range (all errors): no quantiles to plot
                    continue
                a.plot(
                    [p] * len(ms.QUANTILES), q.loc[(n, tp)].to_numpy(), mk, ms=3, color="C0" if tp else "C3"
                )
        a.set(title=f"{task}: quantiles vs accuracy (o human, x CGS)", xlabel="P(correct)", ylabel="RT (ms)")
        a.title.set_fontsize(8)
    a = axes[2 * len(tasks)]
    from cogsim.scenarios._search_rt_measures import unit_slopes

    srcs = {"human": ms.cell_stats(h, rt_range)} | {
        m: ms.cell_stats(trials[trials.model == m][cols], rt_range) for m in models
    }
    width = 0.8 / len(srcs)
    for j, (src, cells) in enumerate(srcs.items()):
        s = unit_slopes(cells).groupby(["task", "target_present"]).slope.mean()
        xs = np.arange(2 * len(tasks))
        vals = [s.get((t, tp), np.nan) for t in tasks for tp in (1, 0)]
        a.bar(xs + j * width, vals, width, label=src)
    a.set_xticks(
        np.arange(2 * len(tasks)) + 0.4,
        [f"{t[:4]} {'P' if tp else 'A'}" for t in tasks for tp in (1, 0)],
        fontsize=6,
    )
    a.set(title="slopes (ms/item)", ylabel="ms/item")
    a.legend(fontsize=6, frameon=False)
    return fig
