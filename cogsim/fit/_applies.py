"""Which of a paradigm's models ``cogsim fit`` fits to a file: the ones asked for, or every one that applies.

A model applies when the file has the trial arrays it needs (``requires``) and its set sizes lie within the
model's tables (``max_set_size``). Asked for by name (``--models``), a model that does not apply is an error
naming the file and the model, and the first row beyond its set sizes or the arrays it needs; by default it
is skipped with the reason, and the others are fitted. A name may hold parameters fixed,
``mixture3p[p_swap=0]`` (:func:`cogsim.fit.fix`); it is fitted under that name.
"""

from __future__ import annotations

import pandas as pd

from cogsim.errors import CogsimError
from cogsim.fit._data import trial_arrays
from cogsim.fit._fixed import SHARED, fix, parse_spec, split_models
from cogsim.fit._model import check_set_sizes
from cogsim.fit._shared import share


def available(data: pd.DataFrame) -> set[str]:
    """The trial arrays ``data`` provides (its numeric columns and stacked pattern groups)."""
    return set(trial_arrays(data.head(1), data.attrs.get("pattern_columns", ())))


def why_not(model, data: pd.DataFrame, have: set[str]) -> str | None:
    """Why ``model`` does not apply to ``data`` (None when it does).

    Example:
      >>> class M:
      ...     name, requires, max_set_size = "m", (), 16
      >>> why_not(M(), pd.DataFrame({"set_size": [2, 20]}), set())
      'set sizes up to 20; model m covers 1 to 16'
    """
    missing = [c for c in getattr(model, "requires", ()) if c not in have]
    if missing:
        return f"needs {', '.join(missing)}"
    limit = getattr(model, "max_set_size", None)
    if limit is not None and "set_size" in data.columns and len(data):
        largest = int(data["set_size"].max())
        if largest > limit:
            return f"set sizes up to {largest}; model {model.name} covers 1 to {limit}"
    return None


def choose(par, data: pd.DataFrame, wanted: str | None) -> tuple[dict, dict]:
    """(models to fit, skipped model -> reason) for the paradigm ``par`` and the checked trials ``data``.

    Raises:
      CogsimError: an unknown name in ``wanted``, a wanted model that does not apply, or no model applies.
    """
    have = available(data)
    if wanted:
        names = split_models(wanted)
        specs = {}
        for n in names:
            base, values = parse_spec(n)
            if base not in par.models:
                raise CogsimError(f"fit --models: {base!r} is unknown; allowed: {', '.join(par.models)}")
            model = par.models[base]
            held = {k: v for k, v in values.items() if v != SHARED}
            shared = [k for k, v in values.items() if v == SHARED]
            try:
                model = fix(model, held) if held else model
                if shared:
                    sizes = sorted(int(v) for v in pd.unique(data["set_size"])) if "set_size" in data else []
                    model = share(model, shared, set_sizes=sizes)
            except CogsimError as exc:
                raise CogsimError(f"fit --models {n!r}: {exc}") from None
            specs[model.name] = model
        names = list(specs)
    else:
        specs = dict(par.models)
        names = list(par.models)
    chosen, skipped = {}, {}
    src = data.attrs.get("source", "<DataFrame>")
    for n in names:
        why = why_not(specs[n], data, have)
        if why and wanted:
            check_set_sizes(specs[n], data, src)  # beyond the model's tables: names the first such row
            raise CogsimError(f"fit --models: {n!r} does not apply to {src}: {why}")
        if why:
            skipped[n] = why
        else:
            chosen[n] = specs[n]
    if not chosen:
        raise CogsimError(f"fit: no model of {par.name!r} applies to {src} ({skipped})")
    return chosen, skipped
