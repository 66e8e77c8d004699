"""Which participants have too few set sizes for a model's parameters to be identified.

A model may declare ``min_set_sizes`` (an int: the fewest distinct set sizes a participant's trials need) and
``confounded`` (the parameters that fewer set sizes leave not separately identified), with
``confounded_why`` (the data such a participant gives, in words). Change detection at one set size gives
two rates, hits and false alarms: the fixed-capacity model's ``K`` and ``a`` then enter only through how
often the probe is held, ``a min(K/N, 1)``, and signal detection's ``d1`` and ``alpha`` only through
``d' = d1 N^-alpha``. The fit still returns an estimate (one point of a ridge), so ``cogsim fit`` says so.
A model with one of those parameters held fixed (:func:`cogsim.fit.fix`) is identified: no line.
"""

from __future__ import annotations

import pandas as pd


def few_set_sizes_line(model, trials: pd.DataFrame, by) -> str | None:
    """The line ``cogsim fit`` prints for a model some of whose participants (``by`` groups of ``trials``)
    have fewer set sizes than it needs (None when none has, or the model declares no need).

    Example:
      >>> from types import SimpleNamespace
      >>> from cogsim.fit import Param
      >>> m = SimpleNamespace(name="m", params=(Param("K", 0.0, 9.0, default=3.0), Param("a", 0.0, 1.0,
      ...     default=0.9)), min_set_sizes=2, confounded=("K", "a"), confounded_why="two rates")
      >>> t = pd.DataFrame({"subject": [1, 1, 2, 2], "set_size": [3, 3, 3, 6]})
      >>> print(few_set_sizes_line(m, t, ("subject",)))
      m: 1 of 2 participants have a single set size: K and a are not separately identified from one set size (two rates)
    """  # noqa: E501
    need = int(getattr(model, "min_set_sizes", 1))
    names = tuple(getattr(model, "confounded", ()))
    free = {p.name for p in model.params}
    if need < 2 or not names or not set(names) <= free or "set_size" not in trials.columns:
        return None
    sizes = trials.groupby(list(by), sort=False)["set_size"].nunique()
    few = int((sizes < need).sum())
    if not few:
        return None
    have = "a single set size" if need == 2 else f"fewer than {need} set sizes"
    fewer = "one set size" if need == 2 else f"fewer than {need} set sizes"
    why = getattr(model, "confounded_why", "")
    return (
        f"{model.name}: {few} of {len(sizes)} participant{' has' if len(sizes) == 1 else 's have'} {have}: "
        f"{' and '.join(names)} are not separately identified from {fewer}" + (f" ({why})" if why else "")
    )
