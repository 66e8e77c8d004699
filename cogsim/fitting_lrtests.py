"""``cogsim fit --lr-test N``: every fitted ``name[param=value|shared,...]`` tested against its fitted
base model by :func:`cogsim.fit.lr_test` (parametric bootstrap, N copies); writes ``lr_tests.parquet`` and a
``lr_tests`` entry of ``comparison.json``."""

from __future__ import annotations

import time
from pathlib import Path

import jax
import pandas as pd

from cogsim.errors import CogsimError

#: the random stream of the tests (the fits use the root key itself)
LR_STREAM = 2


def pairs(chosen: dict, models: dict | None = None) -> list[tuple[str, str]]:
    """``(full, nested)`` names: each chosen model that holds parameters of another chosen model fixed or
    shares them across set sizes (tested against the nearest such model it was built from).

    Args:
      chosen: model name -> model, the models to be fitted.
      models: the paradigm's models (name -> model), whose first with a parameter the refusal's example
        fixes; None: the chosen ones.

    Raises:
      CogsimError: no such pair among the chosen models.
    """
    out = [(full, n) for n, m in chosen.items() if (full := _nearest(m, chosen)) is not None]
    if not out:
        raise CogsimError(
            f"fit --lr-test: no nested pair among the models {list(chosen)}; allowed: a model with its "
            f"fixed version{_example(models if models is not None else chosen)}"
        )
    return out


def _example(models: dict) -> str:
    """``, e.g. --models 'M,M[P=V]'``: the first of ``models`` with a parameter, its first held at its
    default; empty where none has one."""
    for name, m in models.items():
        if m.params:
            p = m.params[0]
            return f", e.g. --models '{name},{name}[{p.name}={p.default:g}]'"
    return ""


def _nearest(m, chosen: dict) -> str | None:
    """The closest chosen model that ``m`` was built from (by fix or share), or None."""
    from cogsim.fit import Fixed, Shared

    names = {id(x): n for n, x in chosen.items()}
    while isinstance(m, (Fixed, Shared)):
        m = m.base
        if id(m) in names:
            return names[id(m)]
    return None


def untested(chosen: dict) -> list[str]:
    """The chosen models built by fix or share whose base is not among the chosen (no test for them)."""
    from cogsim.fit import Fixed, Shared

    return [n for n, m in chosen.items() if isinstance(m, (Fixed, Shared)) and _nearest(m, chosen) is None]


def run(
    chosen: dict, trials, by, n_boot: int, *, n_starts: int = 4, key: jax.Array, folder: Path, comp: dict, log
) -> None:
    """Runs the tests, writes ``lr_tests.parquet`` into ``folder`` and sets ``comp["lr_tests"]``."""
    from cogsim import fit as fitlib
    from cogsim import store

    tables, entries = [], []
    for name in untested(chosen):
        log(f"lr test: {name} not tested: the model it is built from is not among --models")
    for full, nested in pairs(chosen):
        t, c = time.perf_counter(), time.process_time()
        res = fitlib.lr_test(
            chosen[full],
            chosen[nested],
            trials,
            by=by,
            n_boot=n_boot,
            n_starts=n_starts,
            key=jax.random.fold_in(key, LR_STREAM),
        )
        tables.append(res.table.assign(full=full, nested=nested))
        entries.append(
            {"full": full, "nested": nested, "lr": res.lr, "p_value": res.p_value, "n_boot": n_boot}
        )
        log(
            f"lr test {nested} against {full}: summed lr {res.lr:.2f}, p = {res.p_value:.3g} ({n_boot} "
            f"copies; {time.perf_counter() - t:.1f} s, CPU {time.process_time() - c:.1f} s)"
        )
    table = pd.concat(tables, ignore_index=True)
    store.atomic_write_parquet(folder / "lr_tests.parquet", table[["full", "nested", *table.columns[:-2]]])
    comp["lr_tests"] = entries
