"""The delayed-estimation scenario's contrasts over participants: a mixture2p parameter's set-size contrast,
why a bootstrap over one participant tests nothing, and random-effects model selection (checks 1, 2 and 4
and the models table; docs/scenarios/delayed_estimation.md, "Checks").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cogsim import compare as cmp


def set_size_contrast(est: pd.DataFrame, parameter: str, transform, n_boot: int, level: float):
    """Mean over participants of transform(parameter) at the data set's largest minus its smallest set size,
    with a participant-bootstrap CI, over the participants fitted at both; the words saying who is left
    out (empty when nobody is) or why the data cannot test the contrast; and whether they can."""
    p = est[est.parameter == parameter].pivot_table(index="unit", columns="set_size", values="estimate")
    n0, n1 = p.columns.min(), p.columns.max()
    both = p[[n0, n1]].dropna()
    diff = transform(both[n1]) - transform(both[n0])
    note = ""
    if n0 == n1:  # one set size in the data set: nothing to contrast
        return (float("nan"),) * 3, n0, n1, f"; not tested: one set size (N = {n0:g}): no contrast", False
    if len(both) < len(p):
        note = f"; {len(both)} of {len(p)} participants (the others lack N = {n0:g} or N = {n1:g})"
    if len(both) < 2:
        note += f"; not tested: {ONE_UNIT}"
    ci = cmp.bootstrap_ci(diff.to_numpy(), np.mean, n_boot=n_boot, level=level)
    return ci, n0, n1, note, len(both) >= 2


# why a check over participants is not tested on data of one participant (``Check.of(why_untested=...)``)
ONE_UNIT = "no CI (a participant bootstrap needs at least 2 participants)"


def random_effects(fits: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per model: random-effects model selection over the participants from -BIC / 2
    (:func:`cogsim.fit.bms`): expected frequency with its 95 % interval and protected exceedance probability
    (reported beside the summed AIC, not a check); empty for fewer than 2 models."""
    from cogsim.fit import bms

    bic = fits.pivot_table(index="unit", columns="model", values="bic", dropna=False)
    if bic.shape[1] < 2 or not np.all(np.isfinite(bic.to_numpy(float))):
        return {}
    res = bms(-0.5 * bic.to_numpy(float), models=list(bic.columns))
    return {
        m: {
            "bms_frequency": float(res.frequency[i]),
            "bms_frequency_low": float(res.frequency_ci[i, 0]),
            "bms_frequency_high": float(res.frequency_ci[i, 1]),
            "bms_pxp": float(res.protected_exceedance[i]),
            "bms_bor": res.bor,
        }
        for i, m in enumerate(res.names)
    }
