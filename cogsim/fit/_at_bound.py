"""Which estimates lie at a parameter's finite bound, per fitted unit and per participant.

An estimate is *at a bound* when it lies within ``AT_BOUND_TOL`` of a finite bound, measured relative to the
bound's range when both bounds are finite and in the parameter's own units when only one is. Under the
parameter transforms (:class:`cogsim.fit.Param`) this is the same as the slope of the transform at the
estimate having fallen to ``AT_BOUND_TOL`` of its largest value (the scaled logit's slope is
``(high - low) * s * (1 - s)``, the softplus's ``sigmoid(u)``), i.e. the optimiser's gradient in
unconstrained coordinates is at most ``AT_BOUND_TOL`` times the gradient in the parameter itself: there a
fit can meet the convergence test on a plateau toward the bound, so ``converged`` does not tell that the
likelihood has a maximum there.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from cogsim.fit._param import Param

#: an estimate within this fraction of its range of a finite bound (of this many of its units when only one
#: bound is finite) is reported at that bound
AT_BOUND_TOL = 1e-4


def at_bound(param: Param, x) -> np.ndarray:
    """Whether each value of ``x`` lies at a finite bound of ``param`` (within ``AT_BOUND_TOL``).

    Example:
      >>> from cogsim.fit import Param
      >>> at_bound(Param("p", 0.0, 1.0, default=0.5), [0.0, 5e-5, 0.3, 0.99995]).tolist()
      [True, True, False, True]
      >>> at_bound(Param("t", 0.0, default=1.0), [2e-5, 0.01]).tolist()
      [True, False]
    """
    x = np.asarray(x, float)
    lo, hi = math.isfinite(param.low), math.isfinite(param.high)
    tol = AT_BOUND_TOL * (param.high - param.low) if lo and hi else AT_BOUND_TOL
    out = np.zeros(x.shape, bool)
    if lo:
        out |= x - param.low <= tol
    if hi:
        out |= param.high - x <= tol
    return out


def unit_labels(params, units: pd.DataFrame, set_size_column: str | None = None) -> pd.Series:
    """Per fitted unit, the comma-separated names of its parameters at a bound (``""`` when none); with
    ``set_size_column`` (per-set-size models) each name carries its set size, ``p_mem[6]``.

    Example:
      >>> import pandas as pd
      >>> from cogsim.fit import Param
      >>> ps = (Param("p_mem", 0.0, 1.0, default=0.5), Param("sd", 0.0, default=1.0))
      >>> units = pd.DataFrame({"set_size": [2, 6], "p_mem": [0.9, 1.0], "sd": [0.0, 0.4]})
      >>> unit_labels(ps, units, "set_size").tolist()
      ['sd[2]', 'p_mem[6]']
    """
    flags = {p.name: at_bound(p, units[p.name].to_numpy()) for p in params}
    sizes = units[set_size_column].tolist() if set_size_column else [None] * len(units)
    labels = []
    for r, ss in enumerate(sizes):
        names = [n for n, f in flags.items() if f[r]]
        labels.append(",".join(n if ss is None else f"{n}[{_size(ss)}]" for n in names))
    return pd.Series(labels, index=units.index, dtype=object)


def _size(ss) -> str:
    f = float(ss)
    return str(int(f)) if f.is_integer() else repr(f)


def join_labels(labels: pd.Series) -> str:
    """The non-empty unit labels of one participant joined by commas (``""`` when none).

    Example:
      >>> join_labels(pd.Series(["", "p_mem[6]", "sd[2],p_mem[8]"]))
      'p_mem[6],sd[2],p_mem[8]'
    """
    return ",".join(s for s in labels if s)


def base_name(label: str) -> str:
    """A label's parameter name without its set size: ``base_name("p_mem[6]") == "p_mem"``."""
    return label.split("[", 1)[0]


def at_bound_counts(at_bound_column: pd.Series) -> tuple[int, dict[str, int]]:
    """From a ``models`` table's ``at_bound`` column (one row per participant): how many rows have an
    estimate at a bound, and per parameter in how many rows it is at a bound (any set size), most first.

    Example:
      >>> at_bound_counts(pd.Series(["t0_s", "", "t0_s,k_res", "p_mem[2],p_mem[6]"]))
      (3, {'t0_s': 2, 'k_res': 1, 'p_mem': 1})
    """
    rows = [s for s in at_bound_column.fillna("") if s]
    counts = Counter(p for s in rows for p in dict.fromkeys(base_name(x) for x in s.split(",")))
    return len(rows), dict(sorted(counts.items(), key=lambda kv: (-kv[1], list(counts).index(kv[0]))))


def at_bound_line(model: str, at_bound_column: pd.Series) -> str | None:
    """The line ``cogsim fit`` prints for a model with estimates at a bound (None when it has none).

    Example:
      >>> at_bound_line("serial", pd.Series(["t0_s", "", "t0_s,k_res"]))
      'serial: 2 of 3 participants have estimates at a bound (t0_s: 2, k_res: 1); see models.parquet at_bound'
    """
    n, counts = at_bound_counts(at_bound_column)
    if not n:
        return None
    per = ", ".join(f"{p}: {k}" for p, k in counts.items())
    m = len(at_bound_column)
    who = "participant has" if m == 1 else "participants have"
    return f"{model}: {n} of {m} {who} estimates at a bound ({per}); see models.parquet at_bound"
