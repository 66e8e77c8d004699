"""What ``cogsim fit`` writes into ``comparison.json`` and ``figure.png``: the models compared.

Per model: summed AIC/BIC, participants won, summed CV log-likelihood and the differences to the best model,
each with a 95 % CI from resampling participants (fixed effects: one model for everyone); and random-effects
Bayesian model selection (:func:`cogsim.fit.bms`: expected model frequencies, exceedance and protected
exceedance probabilities, the Bayesian omnibus risk) from ``-BIC / 2`` and from ``-AIC / 2``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cogsim.errors import CogsimError

N_BOOT = 2000  # participant resamples for the comparison's CIs
#: AIC or BIC values within this of each other are a tie (the models fit alike: float32 log-likelihoods of
#: equal fits differ in the last bits), for participants won and for the best model
TIE_TOL = 0.01
BMS_CRITERIA = ("bic", "aic")  # random-effects model selection from each (log evidence -BIC/2, -AIC/2)


def parse_families(text: str, models: list[str]) -> dict[str, list[str]]:
    """``--families 'equal=mixture2p+slots_averaging,variable=vp'`` -> ``{family: [models]}`` over the
    fitted ``models``; a model no family names forms a family of its own, under its own name.

    Raises:
      CogsimError: a malformed item, a model that is not fitted or is named twice, a family name used
        twice or equal to a model outside it, or fewer than 2 families.

    Example:
      >>> parse_families("equal=mixture2p+slots_averaging", ["mixture2p", "slots_averaging", "vp"])
      {'equal': ['mixture2p', 'slots_averaging'], 'vp': ['vp']}
    """
    from cogsim.fit._fixed import split_models

    form = "comma-separated NAME=model+model+... (e.g. equal=mixture2p+slots_averaging,variable=vp)"
    out: dict[str, list[str]] = {}
    for item in split_models(text):
        name, eq, members = item.partition("=")
        name = name.strip()
        listed = [m.strip() for m in members.split("+")] if eq else []
        if not name or "[" in name or not listed or not all(listed):
            raise CogsimError(f"fit --families: got {text!r} (item {item!r}); allowed: {form}")
        if name in out:
            raise CogsimError(f"fit --families: family {name!r} is named twice; allowed: distinct names")
        out[name] = listed
    seen: dict[str, str] = {}
    for fam, listed in out.items():
        for m in listed:
            if m not in models:
                raise CogsimError(
                    f"fit --families {fam!r}: got model {m!r}; allowed: one of the fitted models {models}"
                )
            if m in seen:
                raise CogsimError(
                    f"fit --families: model {m!r} is in families {seen[m]!r} and {fam!r}; allowed: each "
                    "model in one family"
                )
            seen[m] = fam
    for m in models:
        if m not in seen:
            if m in out:
                raise CogsimError(
                    f"fit --families: family name {m!r} is also a model outside it; allowed: another name"
                )
            out[m] = [m]
    if len(out) < 2:
        raise CogsimError(
            f"fit --families: got {text!r}, one family of all the fitted models; allowed: at least 2 families"
        )
    return out


def selections(models_table: pd.DataFrame, by: tuple[str, ...], families=None) -> dict:
    """``{criterion: BMSResult or None}``: random-effects model selection (:func:`cogsim.fit.bms`) from BIC
    and from AIC (over ``families`` where given); None where some participant lacks a finite value (e.g. a
    failed fit)."""
    from cogsim.fit import bms

    out = {}
    for crit in BMS_CRITERIA:
        finite = np.all(np.isfinite(models_table[crit].to_numpy(float)))
        out[crit] = bms(models_table, by=by, criterion=crit, families=families) if finite else None
    return out


def attribution(selected: dict, by: tuple[str, ...]) -> pd.DataFrame | None:
    """Each participant's posterior probability of each model in ``selected`` (:func:`selections`):
    ``criterion, <by...>, model, probability``; None where no criterion gave a selection."""
    frames = []
    for crit, res in selected.items():
        if res is not None:
            long = res.attribution.melt(id_vars=list(by), var_name="model", value_name="probability")
            frames.append(long.assign(criterion=crit)[["criterion", *by, "model", "probability"]])
    return pd.concat(frames, ignore_index=True) if frames else None


def comparison(
    models_table: pd.DataFrame,
    by: tuple[str, ...],
    *,
    seed: int = 0,
    families: dict[str, list[str]] | None = None,
    selected: dict | None = None,
) -> dict:
    """Per model: summed AIC/BIC, participants won (by AIC and BIC), summed CV log-likelihood, and the
    differences to the best model, each with a 95% percentile CI over ``N_BOOT`` participant resamples (no
    CI, ``None``, for one participant); ``bms``: random-effects model selection (:func:`cogsim.fit.bms`)
    from BIC and from AIC (None for one model); with ``families`` (:func:`parse_families`) also
    ``bms_families``, the same over families of models; with two or more participant columns also
    ``bms_groups``, the same within each group (each value of the columns but the last). ``selected``: the
    models' :func:`selections`, where the caller already has them."""
    rng = np.random.default_rng(seed)
    out = {}
    wide = {
        m: models_table.pivot(index=list(by), columns="model", values=m) for m in ("aic", "bic", "cv_loglik")
    }
    names = list(wide["aic"].columns)
    n = len(wide["aic"])
    idx = rng.integers(0, n, (N_BOOT, n))

    def with_ci(values: np.ndarray, stat) -> dict:
        if not np.all(np.isfinite(values)):
            return {"value": None, "ci": None}
        if n < 2:  # resampling one participant gives no interval
            return {"value": float(stat(values)), "ci": None}
        boot = np.array([stat(values[i]) for i in idx])
        return {
            "value": float(stat(values)),
            "ci": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))],
        }

    for crit in ("aic", "bic"):
        table = wide[crit].to_numpy(float)
        sums = table.sum(0)
        best = names[int(np.nanargmin(sums))]
        low = table.min(1, keepdims=True)
        near = table <= low + TIE_TOL  # within TIE_TOL of the participant's lowest value
        tied = near & (near.sum(1, keepdims=True) > 1)
        for j, m in enumerate(names):
            entry = out.setdefault(m, {})
            entry[f"{crit}_sum"] = with_ci(table[:, j], np.sum)
            entry[f"{crit}_minus_best"] = with_ci(table[:, j] - table[:, names.index(best)], np.sum)
            entry[f"won_{crit}"] = with_ci(near[:, j] & ~tied[:, j], np.sum)
            entry[f"tied_{crit}"] = with_ci(tied[:, j], np.sum)
        out["best_" + crit] = best
        close = sums <= sums.min() + TIE_TOL
        out[f"tied_best_{crit}"] = [m for m, c in zip(names, close, strict=True) if c and m != best]
    cv = wide["cv_loglik"].to_numpy(float)
    for j, m in enumerate(names):
        out[m]["cv_loglik_sum"] = with_ci(cv[:, j], np.sum)
    out["n_participants"] = int(n)
    return {
        "models": {m: out[m] for m in names},
        "best_aic": out["best_aic"],
        "best_bic": out["best_bic"],
        "tied_best_aic": out["tied_best_aic"],
        "tied_best_bic": out["tied_best_bic"],
        "n_participants": int(n),
        "bms": _as_dicts(selected or selections(models_table, by)) if len(names) > 1 else None,
        **({"bms_families": _by_family(models_table, by, families)} if families else {}),
        **({"bms_groups": _by_group(models_table, by)} if len(by) > 1 and len(names) > 1 else {}),
    }


def _by_group(models_table: pd.DataFrame, by: tuple[str, ...]) -> dict:
    """Random-effects model selection within each group of participants: each value of the participant
    columns but the last (e.g. each task of ``--by task,subject``, each experiment of
    ``--by experiment,subject``), where the models may differ between groups."""
    outer = list(by[:-1])
    groups = {}
    for key, part in models_table.groupby(outer, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{c}={v}" for c, v in zip(outer, key, strict=True))
        groups[label] = _as_dicts(selections(part, by))
    return {"by": outer, "groups": groups}


def _by_family(models_table: pd.DataFrame, by: tuple[str, ...], families: dict[str, list[str]]) -> dict:
    return {"families": families, **_as_dicts(selections(models_table, by, families))}


def _as_dicts(selected: dict) -> dict:
    return {crit: None if res is None else res.as_dict() for crit, res in selected.items()}


def bms_line(comp: dict, criterion: str = "bic", entry: str = "bms") -> str | None:
    """One line of the random-effects model selection from ``criterion`` (None where there is none);
    ``entry="bms_families"`` for the families'."""
    res = (comp.get(entry) or {}).get(criterion)
    what = " by family" if entry == "bms_families" else ""
    return None if res is None else _line(res, f"random-effects BMS{what} ({criterion.upper()})")


def bms_group_lines(comp: dict, criterion: str = "bic") -> list[str]:
    """One line per group of participants (``bms_groups``) of the random-effects model selection."""
    groups = (comp.get("bms_groups") or {}).get("groups", {})
    return [
        _line(res[criterion], f"random-effects BMS ({criterion.upper()}), {label}")
        for label, res in groups.items()
        if res.get(criterion) is not None
    ]


def _line(res: dict, head: str) -> str:
    parts = ", ".join(
        f"{m} {e['frequency']:.2f} [{e['frequency_ci'][0]:.2f}, {e['frequency_ci'][1]:.2f}] "
        f"pxp {e['protected_exceedance']:.3f}"
        for m, e in res["models"].items()
    )
    return f"{head}: frequency [95% CI] and protected exceedance: {parts}; BOR {res['bor']:.3g}"


def figure(comp: dict, fits: pd.DataFrame, path: Path) -> None:
    """Summed AIC/BIC differences to the best model, participants won (with CIs) and the random-effects
    protected exceedance probabilities, and the estimates."""
    from cogsim import plots

    fig, axes = plots.panels(3, ncols=3, size=(4.2, 3.4))
    names = list(comp["models"])
    x = np.arange(len(names))
    for ax, crit in zip(axes[:2], ("aic", "bic"), strict=True):
        entries = [comp["models"][m][f"{crit}_minus_best"] for m in names]
        v = np.array([np.nan if e["value"] is None else e["value"] for e in entries], float)
        ci = np.array([[np.nan, np.nan] if e["ci"] is None else e["ci"] for e in entries], float)
        ax.bar(x, v, color="0.6")
        ax.errorbar(x, v, yerr=[np.subtract(v, ci[:, 0]), np.subtract(ci[:, 1], v)], fmt="none", color="k")
        won = [comp["models"][m][f"won_{crit}"]["value"] or 0 for m in names]
        tied = [(comp["models"][m].get(f"tied_{crit}") or {}).get("value") or 0 for m in names]
        group = (comp.get("bms") or {}).get(crit)
        for xi, (vi, w, t) in enumerate(zip(v, won, tied, strict=True)):
            pxp = f"\npxp {group['models'][names[xi]]['protected_exceedance']:.2f}" if group else ""
            ties = f", tied {t:.0f}" if t else ""
            ax.annotate(f"won {w:.0f}{ties}{pxp}", (xi, vi), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set_ylabel(f"summed {crit.upper()} - best (95% CI)")
        ax.set_title(f"{crit.upper()}: best {comp['best_' + crit]}")
    ax = axes[2]
    means = fits.groupby(["model", "parameter"], sort=False)["estimate"].median().reset_index()
    labels = [f"{r.model}:{r.parameter}" for r in means.itertuples()]
    ax.barh(np.arange(len(means)), means["estimate"], color="0.6")
    ax.set_yticks(np.arange(len(means)), labels, fontsize=7)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_title("median estimate over participants")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
