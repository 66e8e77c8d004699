"""Likelihood-ratio test of a nested model by parametric bootstrap (``cogsim.fit.lr_test``).

Where the nested model holds a parameter at a bound of the full model's range (``p_swap = 0``), the
likelihood-ratio statistic is not chi-square distributed, so its null distribution is simulated instead:
the nested model's fits generate ``n_boot`` copies of the data (:func:`cogsim.fit.predictive`), both models
are fitted to every copy, and the p-value is the share of copies whose statistic reaches the data's. The
test is done per participant and for the sum over participants (one copy of every participant per draw).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import numpy as np
import pandas as pd

from cogsim.errors import CogsimError, check_count
from cogsim.fit._fit import fit
from cogsim.fit._fixed import impossible_under
from cogsim.fit._key import check_key
from cogsim.fit._model import levels
from cogsim.fit._predictive import predictive

#: the copies' index column (as :func:`cogsim.fit.predictive` names it)
SIM = "sim"


@dataclasses.dataclass(frozen=True)
class LRTest:
    """A parametric-bootstrap likelihood-ratio test (:func:`lr_test`).

    Attributes:
      full: the full model's name.
      nested: the nested model's name.
      by: the participant columns.
      table: one row per participant: ``<by...>, loglik_full, loglik_nested, lr, p_value``
        (``lr = 2 (loglik_full - loglik_nested)``; ``p_value = (1 + #{copies with lr* >= lr}) /
        (1 + n_boot)``).
      lr: the statistic summed over participants.
      p_value: its bootstrap p-value (each copy's statistics summed over participants).
      n_boot: the number of simulated copies.
      null: ``[n_boot]`` the summed statistic of every copy.
    """

    full: str
    nested: str
    by: tuple[str, ...]
    table: pd.DataFrame
    lr: float
    p_value: float
    n_boot: int
    null: np.ndarray


def _p_value(null: np.ndarray, observed: float) -> float:
    # a tolerance for float32 noise: a statistic equal to the data's counts as reaching it
    return float((1 + np.sum(null >= observed - 1e-4)) / (1 + len(null)))


def lr_test(
    full,
    nested,
    data: pd.DataFrame,
    *,
    by: Sequence[str] = ("subject",),
    n_boot: int = 100,
    n_starts: int = 4,
    set_size_column: str = "set_size",
    key: jax.Array,
) -> LRTest:
    """Tests ``nested`` against ``full`` (a model that contains it, e.g. ``nested = fix(full, {...})``).

    Args:
      full: the full model.
      nested: the nested model; it must have ``simulate`` (it generates the null copies) and its
        parameters must be among ``full``'s.
      data: the trials.
      by: participant columns.
      n_boot: simulated copies of the data (>= 1; the smallest p-value is ``1 / (n_boot + 1)``).
      n_starts: starts of every fit.
      set_size_column: the set-size column.
      key: the root random key (the data's fits, the copies and the copies' fits each fold in their own).

    Returns:
      An :class:`LRTest`.

    Raises:
      CogsimError: a bad ``n_boot``, a nested model with a parameter ``full`` lacks or without ``simulate``,
        a ``by`` column named ``sim``, or held values under which some participant's trials are impossible
        (the statistic would be infinite).

    Example:
      >>> import jax, numpy as np, pandas as pd
      >>> from cogsim.fit import fix, lr_test
      >>> from cogsim.models.working_memory import MIXTURE2P
      >>> rng = np.random.default_rng(0)  # 30 % of the responses are guesses
      >>> e = np.where(rng.random(200) < 0.7, rng.vonmises(0.0, 8.0, 200), rng.uniform(-np.pi, np.pi, 200))
      >>> trials = pd.DataFrame({"subject": 1, "set_size": 2, "error_rad": e})
      >>> t = lr_test(MIXTURE2P, fix(MIXTURE2P, {"p_mem": 1.0}), trials, n_boot=20, key=jax.random.key(0))
      >>> round(t.p_value, 3)  # no guessing is rejected at the smallest p-value, 1 / 21
      0.048
    """
    check_key(key, what="lr_test")
    n_boot = check_count("lr_test", "n_boot", n_boot)
    by = tuple(by)
    if SIM in by:
        raise CogsimError(
            f"lr_test by: got {list(by)}; allowed: columns other than {SIM!r} (the copies' index)"
        )
    shown = levels(nested)  # a shared model's p_mem[3] is full's p_mem at set size 3
    extra = sorted({shown.get(p.name, (p.name,))[0] for p in nested.params} - {p.name for p in full.params})
    if extra:
        raise CogsimError(
            f"lr_test nested {nested.name!r}: parameters {extra} are not parameters of {full.name!r}; "
            f"allowed: a model nested in {full.name!r} (e.g. cogsim.fit.fix({full.name}, ...))"
        )
    if not callable(getattr(nested, "simulate", None)):
        raise CogsimError(f"lr_test nested {nested.name!r}: no simulate; allowed: a model with simulate")
    opts = dict(n_starts=n_starts, ci=None, set_size_column=set_size_column)
    res_full = fit(full, data, by=by, key=jax.random.fold_in(key, 0), **opts)
    res_nested = fit(nested, data, by=by, key=jax.random.fold_in(key, 1), **opts)
    if why := impossible_under(nested, res_nested.summary, by):
        raise CogsimError(f"lr_test nested: {why}")
    table = _statistic(res_full.summary, res_nested.summary, list(by))
    copies = predictive(
        nested,
        res_nested,
        data,
        n_sims=n_boot,
        set_size_column=set_size_column,
        key=jax.random.fold_in(key, 2),
    )
    boot_by = (*by, SIM)
    boot = _statistic(
        fit(full, copies, by=boot_by, key=jax.random.fold_in(key, 3), **opts).summary,
        fit(nested, copies, by=boot_by, key=jax.random.fold_in(key, 4), **opts).summary,
        list(boot_by),
    )
    null = boot.pivot_table(index=list(by), columns=SIM, values="lr", aggfunc="first")
    per_unit = null.reindex(pd.MultiIndex.from_frame(table[list(by)]) if len(by) > 1 else table[by[0]])
    table["p_value"] = [_p_value(row, lr) for row, lr in zip(per_unit.to_numpy(), table["lr"], strict=True)]
    summed = null.sum(axis=0).to_numpy()
    lr = float(table["lr"].sum())
    return LRTest(full.name, nested.name, by, table, lr, _p_value(summed, lr), n_boot, summed)


def _statistic(full: pd.DataFrame, nested: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = full[[*keys, "loglik"]].merge(nested[[*keys, "loglik"]], on=keys, suffixes=("_full", "_nested"))
    out["lr"] = 2.0 * (out["loglik_full"] - out["loglik_nested"])
    return out.reset_index(drop=True)
