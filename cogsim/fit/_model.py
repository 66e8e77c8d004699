"""What a fittable model provides: parameters, a per-trial log-likelihood and, optionally, a simulator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import jax
import numpy as np
import pandas as pd

from cogsim.errors import CogsimError, DataError
from cogsim.fit._param import Param, check_params


@runtime_checkable
class Model(Protocol):
    """The protocol :func:`cogsim.fit.fit` fits (any object with these attributes; no base class).

    Attributes:
      name: the model's name in the result tables (``"mixture2p"``).
      params: its free parameters.
      by_set_size: True fits a separate parameter set per set size (per participant).
      requires: trial columns the likelihood reads besides the paradigm's schema.

    Optional methods: ``simulate(params, trials, *, key) -> {response column: array [n_trials]}`` (needed
    for parametric-bootstrap CIs and recovery), ``design(n_trials, *, key) -> {column: array}`` (a trial
    design for recovery when none is given) and ``start_points() -> tuple[{name: value}, ...]``: extra
    starts in natural units (a parameter left out takes its default), fitted in addition to the
    ``n_starts`` default and random starts, for every unit. A model whose likelihood has kinks or separate
    basins the gradient cannot see across (e.g. one segment per integer capacity) declares one start in
    each, so that the best-of-starts rule covers them all on any data set. ``initial(trials) -> {name:
    value}``: a start computed from one unit's own trials (``trials`` maps each column to a numpy array of
    that unit's real trials; natural units; a parameter left out takes its default), fitted as one more
    start of that unit (e.g. a shift from a low RT quantile, a scale from the RT spread: starts near each
    unit's data when the defaults lie far from them). ``specialise(trials) -> model``: the model to fit
    these data with (``trials`` maps each column to an array of all the data's trials; a DataFrame): the
    same per-trial log-likelihood on them, perhaps computed more cheaply (the working-memory models cut
    their per-set-size tables at the largest set size present), with the same name and parameters; equal
    data must give the same object, so that compiled programs are reused (:func:`specialised`).
    ``loglik_parts() -> (tables, rows) | None``: the likelihood split as ``loglik(params, trials) ==
    rows(tables(params), trials)``, ``tables`` the part that depends on the parameters only, ``rows`` each
    trial's term from its own trial alone; where the solver solves one problem at a time, a unit's sum then
    stops near its last real row instead of covering the padding (:mod:`cogsim.fit._trimmed`).
    ``inert(trials) -> tuple of names``: the parameters one unit's likelihood does not depend on, given its
    own trials (``trials`` as for ``initial``), e.g. the swap rate at set size 1, where there is no
    non-target to swap with. Such a parameter is not counted in that unit's ``n_params`` (so AIC and BIC)
    and its estimate and interval are reported as NaN: any value fits equally well.
    ``inert_given(values) -> tuple of names``: the parameters the likelihood does not depend on while the
    parameters in ``values`` are held at those values (:func:`cogsim.fit.fix`), e.g. the memory's precision
    once ``p_mem`` is held at 0; a fixed model adds them to ``inert``.
    ``check_trials(frame, source)``: the model's own checks of the trial table (raises a ``DataError``
    naming row, column and value), run by every fit on every frame, whether a paradigm read it or not
    (e.g. the delayed-estimation models refuse angles outside [-pi, pi]: degrees by mistake).
    Optional attributes:
    ``max_set_size`` (an int), the largest set size the likelihood covers (e.g. the end of its per-set-size
    tables); :func:`check_set_sizes` refuses data beyond it. ``sample_temperatures`` (an int, default 1):
    the replicas per chain :func:`cogsim.fit.sample` runs when not told (``n_temperatures=None``), for a
    likelihood whose separated modes plain HMC does not cross. ``min_set_sizes`` (an int, default 1),
    ``confounded`` (parameter names) and ``confounded_why`` (words): a participant with fewer distinct set
    sizes leaves those parameters not separately identified; ``cogsim fit`` prints a line saying so
    (:func:`cogsim.fit.few_set_sizes_line`), and fits them all the same.

    Example:
      >>> import jax.numpy as jnp
      >>> from cogsim.fit import Model, Param
      >>> class Coin:  # a participant's yes-rate
      ...     name, by_set_size, requires = "coin", False, ()
      ...     params = (Param("p", 0.0, 1.0, default=0.5, doc="probability of a yes"),)
      ...     def loglik(self, params, trials):
      ...         return jnp.where(trials["yes"] > 0, jnp.log(params["p"]), jnp.log1p(-params["p"]))
      >>> isinstance(Coin(), Model)
      True
      >>> [round(float(v), 3) for v in Coin().loglik({"p": 0.8}, {"yes": jnp.array([1, 1, 0])})]
      [-0.223, -0.223, -1.609]
    """

    name: str
    params: tuple[Param, ...]
    by_set_size: bool
    requires: tuple[str, ...]

    def loglik(self, params: Mapping[str, jax.Array], trials: Mapping[str, jax.Array]) -> jax.Array:
        """Per-trial log-likelihood, shape ``[n_trials]``; pure JAX (jit/vmap-safe).

        ``params`` holds scalars (one participant, and one set size when ``by_set_size``); ``trials`` holds
        arrays of the trial columns (and stacked pattern columns, e.g. ``"nontargets"``). Padded trials are
        masked by the fitting layer.
        """
        ...


def check_model(model) -> None:
    """Raises a CogsimError naming what a model object lacks (or that it got a model's name as text)."""
    if isinstance(model, str):
        raise CogsimError(
            f"model: got a model name as text ({model!r}); allowed: a model object, e.g. "
            "cogsim.models.paradigms.get(PARADIGM).models[NAME]"
        )
    for attr in ("name", "params", "loglik"):
        if not hasattr(model, attr):
            raise CogsimError(f"model {model!r}: missing attribute {attr!r}; allowed: a cogsim.fit.Model")
    check_params(tuple(model.params), f"model {model.name!r}")


def specialised(model, data):
    """``model.specialise(data)`` where the model declares it (checked: the same name and parameters), else
    ``model``.

    Example:
      >>> import pandas as pd
      >>> from cogsim.models.working_memory import VP
      >>> specialised(VP, pd.DataFrame({"set_size": [1, 4, 2]})).n_rows
      4
    """
    fn = getattr(model, "specialise", None)
    if not callable(fn):
        return model
    out = fn(data)
    check_model(out)
    if out.name != model.name or tuple(out.params) != tuple(model.params):
        raise CogsimError(
            f"model {model.name!r} specialise: got a model named {out.name!r} with parameters "
            f"{[p.name for p in out.params]}; allowed: the same name and parameters"
        )
    return out


def loglik_parts(model):
    """The model's ``loglik_parts()`` (``(tables, rows)``: :mod:`cogsim.fit._trimmed`), or None where it
    declares none or returns None."""
    fn = getattr(model, "loglik_parts", None)
    return fn() if callable(fn) else None


def by_set_size(model) -> bool:
    """The model's ``by_set_size`` flag (False when absent)."""
    return bool(getattr(model, "by_set_size", False))


def levels(model) -> dict[str, tuple[str, int]]:
    """``{parameter: (name shown, set size)}`` for a model whose parameters stand for one set size each
    (:func:`cogsim.fit.share`: ``p_mem[3]`` is ``p_mem`` at set size 3); empty for other models."""
    fn = getattr(model, "levels", None)
    return dict(fn()) if callable(fn) else {}


def requires(model) -> tuple[str, ...]:
    """The model's ``requires`` columns (none when absent)."""
    return tuple(getattr(model, "requires", ()))


def start_points(model) -> tuple[dict[str, float], ...]:
    """The model's extra start points (natural units), checked: none when it declares none.

    Example:
      >>> from cogsim.fit import Param
      >>> class M:
      ...     name, params = "m", (Param("K", 0.0, 8.0, default=3.0),)
      ...     def start_points(self):
      ...         return ({"K": 0.5},)
      >>> start_points(M())
      ({'K': 0.5},)
    """
    fn = getattr(model, "start_points", None)
    points = tuple(dict(p) for p in fn()) if callable(fn) else ()
    bounds = {p.name: p for p in model.params}
    for point in points:
        for name, value in point.items():
            p = bounds.get(name)
            if p is None or not p.low < float(value) < p.high:
                allowed = f"a value inside ({p.low}, {p.high})" if p else f"a parameter of {sorted(bounds)}"
                raise CogsimError(
                    f"model {model.name!r} start_points: got {name}={value!r}; allowed: {allowed}"
                )
    return points


def initial_point(model, trials) -> dict[str, float] | None:
    """The model's data-informed start for one unit (natural units, every parameter named; a parameter the
    model leaves out takes its default), checked; None when the model declares no ``initial``.

    Example:
      >>> import numpy as np
      >>> from cogsim.fit import Param
      >>> class M:
      ...     name, params = "m", (Param("mu", default=0.0), Param("sd", 0.0, default=1.0))
      ...     def initial(self, t):
      ...         return {"mu": float(np.mean(t["x"]))}
      >>> initial_point(M(), {"x": np.array([1.0, 3.0])})
      {'mu': 2.0, 'sd': 1.0}
    """
    fn = getattr(model, "initial", None)
    if not callable(fn):
        return None
    point = dict(fn(trials))
    bounds = {p.name: p for p in model.params}
    for name, value in point.items():
        p = bounds.get(name)
        if p is None or not p.low < float(value) < p.high:
            allowed = f"a value inside ({p.low}, {p.high})" if p else f"a parameter of {sorted(bounds)}"
            raise CogsimError(f"model {model.name!r} initial: got {name}={value!r}; allowed: {allowed}")
    return {p.name: float(point.get(p.name, p.default)) for p in model.params}


def check_set_sizes(model, data, source: str = "<DataFrame>", column: str = "set_size") -> None:
    """Raises a DataError naming the first row whose ``set_size`` is not a whole number or lies outside
    ``1..model.max_set_size`` (below 1 for a model without a ``max_set_size``; nothing to check when the
    data have no such column), whatever the model: a DataFrame that ``Paradigm.read`` did not check gets
    this rule too.

    Example:
      >>> import pandas as pd
      >>> class M:
      ...     name, max_set_size = "m", 16
      >>> try:
      ...     check_set_sizes(M(), pd.DataFrame({"set_size": [2, 20]}), "t.csv")
      ... except DataError as e:
      ...     print(str(e).split(" (")[0])
      t.csv: row 2, column 'set_size': got 20; allowed: 1 to 16 for model 'm'
    """
    limit = getattr(model, "max_set_size", None)
    if column not in data.columns:
        return
    values = data[column].to_numpy()
    number = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(float)
    whole = np.isfinite(number)
    whole[whole] = np.mod(number[whole], 1.0) == 0.0
    if not whole.all():
        i = int((~whole).nonzero()[0][0])
        value = values[i].item() if hasattr(values[i], "item") else values[i]
        raise DataError(
            f"{source}: row {i + 1}, column {column!r}: got {value!r}; allowed: a whole number of items"
        )
    bad = (number < 1) | (number > (np.inf if limit is None else limit))
    if bad.any():
        i = int(bad.nonzero()[0][0])
        value = values[i].item() if hasattr(values[i], "item") else values[i]
        allowed = (
            "a whole number of items >= 1"
            if limit is None
            else f"1 to {limit} for model {model.name!r} (the set sizes its likelihood covers)"
        )
        raise DataError(f"{source}: row {i + 1}, column {column!r}: got {value!r}; allowed: {allowed}")


def inert_mask(model, packed) -> np.ndarray:
    """``[n_units, n_params]`` True where the model declares a parameter inert for that unit's real trials
    (:class:`Model`, ``inert``); all False for a model that declares no ``inert``.

    Example:
      >>> import numpy as np, pandas as pd
      >>> from types import SimpleNamespace
      >>> from cogsim.fit import Param
      >>> class M:
      ...     name, params = "m", (Param("a", 0.0, 1.0, default=0.5), Param("b", 0.0, 1.0, default=0.5))
      ...     def inert(self, t):
      ...         return ("b",) if np.all(t["n"] == 1) else ()
      >>> packed = SimpleNamespace(trials={"n": np.array([[1, 1], [1, 2]])}, mask=np.ones((2, 2), bool),
      ...                          units=pd.DataFrame({"subject": [1, 2]}))
      >>> inert_mask(M(), packed).tolist()
      [[False, True], [False, False]]
    """
    names = [p.name for p in model.params]
    out = np.zeros((len(packed.units), len(names)), bool)
    fn = getattr(model, "inert", None)
    if not callable(fn) or not names:
        return out
    mask = np.asarray(packed.mask) > 0
    arrays = {c: np.asarray(a) for c, a in packed.trials.items()}
    for u in range(len(out)):
        held = fn({c: a[u][mask[u]] for c, a in arrays.items()})
        for name in held:
            if name not in names:
                raise CogsimError(
                    f"model {model.name!r} inert: got {name!r}; allowed: a parameter of {sorted(names)}"
                )
            out[u, names.index(name)] = True
    return out
