"""A model with some of its parameters held at given values (``cogsim.fit.fix``).

Holding a parameter fixed is how nested models are compared and how a parameter that the data cannot
identify is taken out of a fit, as MemToolbox, mixtur and bmm allow (e.g. the three-parameter mixture with
``p_swap = 0`` is the two-parameter mixture; a guessing rate held at a value known from another task). The
fixed model is an ordinary model: :func:`cogsim.fit.fit`, :func:`~cogsim.fit.fit_hierarchical`, the CIs,
cross-validation, predictive checks and :func:`~cogsim.fit.recover` see only its free parameters, and
``n_params`` (so AIC and BIC) counts only those. On the command line, ``--models 'mixture3p[p_swap=0]'``
fits it (:func:`parse_spec`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from cogsim.errors import CogsimError
from cogsim.fit._model import check_model

#: the optional methods of :class:`cogsim.fit.Model` a fixed model passes on (each with the fixed values
#: put back), present only where the model declares them
_WRAPPED = ("simulate", "start_points", "initial", "specialise", "loglik_parts", "inert")


@dataclasses.dataclass(frozen=True)
class Fixed:
    """``base`` with the parameters in ``values`` held fixed (build it with :func:`fix`).

    Attributes:
      base: the model whose parameters are held.
      values: ``((parameter, value), ...)`` in the base model's parameter order.
      name: the model's name in the result tables.

    Example:
      >>> from cogsim.fit import fix
      >>> from cogsim.models.working_memory import MIXTURE2P
      >>> m = fix(MIXTURE2P, {"p_mem": 1.0})  # no guessing: every response from memory
      >>> m.name, m.fixed, [p.name for p in m.params]
      ('mixture2p[p_mem=1]', {'p_mem': 1.0}, ['sd_rad'])
      >>> trials = {"error_rad": jnp.array([0.0, 3.0])}
      >>> [round(float(v), 2) for v in m.loglik({"sd_rad": 0.5}, trials)]  # the base model's at p_mem = 1
      [-0.19, -9.29]
      >>> [round(float(v), 2) for v in MIXTURE2P.loglik({"p_mem": 1.0, "sd_rad": 0.5}, trials)]
      [-0.19, -9.29]
    """

    base: object
    values: tuple[tuple[str, float], ...]
    name: str

    @property
    def params(self):
        """The base model's parameters that are not fixed."""
        held = dict(self.values)
        return tuple(p for p in self.base.params if p.name not in held)

    @property
    def fixed(self) -> dict[str, float]:
        """The held parameters and their values."""
        return dict(self.values)

    def _full(self, params):
        return _with_values(params, self.values)

    def loglik(self, params, trials):
        """The base model's per-trial log-likelihood with the fixed values put in."""
        return self.base.loglik(self._full(params), trials)

    def __getattr__(self, attr):
        if attr.startswith("__") or attr in ("base", "values", "name"):
            raise AttributeError(attr)
        inner = getattr(self.base, attr)  # AttributeError where the base model has none: so has this one
        if attr not in _WRAPPED:
            return inner  # by_set_size, requires, design, max_set_size, sign_invariant, ...
        if not callable(inner):
            raise AttributeError(attr)
        return functools.partial(getattr(Fixed, f"_{attr}"), self)

    def _simulate(self, params, trials, *, key):
        return self.base.simulate(self._full(params), trials, key=key)

    def _start_points(self):
        held, seen, out = self.fixed, set(), []
        for point in self.base.start_points():
            free = tuple((k, v) for k, v in dict(point).items() if k not in held)
            if free and free not in seen:
                seen.add(free)
                out.append(dict(free))
        return tuple(out)

    def _initial(self, trials):
        held = self.fixed
        return {k: v for k, v in dict(self.base.initial(trials)).items() if k not in held}

    def _inert(self, trials):
        held = self.fixed
        given = getattr(self.base, "inert_given", None)  # e.g. the memory's precision once p_mem is 0
        names = (*self.base.inert(trials), *(given(held) if callable(given) else ()))
        return tuple(n for n in dict.fromkeys(names) if n not in held)

    def _specialise(self, trials):
        return _make(self.base.specialise(trials), self.values, self.name)

    def _loglik_parts(self):
        parts = self.base.loglik_parts()
        if parts is None:
            return None
        tables, rows = parts
        return functools.partial(_held_tables, tables, self.values), rows

    def __repr__(self) -> str:
        return f"Fixed({self.name!r}, params={[p.name for p in self.params]})"


def _with_values(params, values):
    """``params`` with the held ``((name, value), ...)`` put in."""
    return {**params, **{k: jnp.float32(v) for k, v in values}}


def _held_tables(tables, values, params):
    return tables(_with_values(params, values))


@functools.lru_cache(maxsize=64)
def _make(base, values, name) -> Fixed:
    """One object per (base model, values, name), so compiled programs are reused."""
    return Fixed(base, values, name)


def _value_text(v: float) -> str:
    return format(v, "g")


def fix(model, values: Mapping[str, float], *, name: str | None = None) -> Fixed:
    """``model`` with the parameters in ``values`` held at those values (natural units).

    Args:
      model: a :class:`cogsim.fit.Model`.
      values: parameter name -> value, each within the parameter's bounds (a bound itself is allowed, e.g.
        ``p_swap = 0``, where the likelihood is finite there). For a model fitted per set size the value
        holds at every set size.
      name: the model's name in the tables (default ``"<name>[<param>=<value>,...]"``).

    Returns:
      A model whose free parameters are the others; every fitting function takes it.

    Raises:
      CogsimError: an unknown parameter, a value that is not a finite number or lies outside the bounds,
        or no value given.

    Example:
      >>> from cogsim.fit import fix
      >>> from cogsim.models.working_memory import MIXTURE3P
      >>> m = fix(MIXTURE3P, {"p_swap": 0.0})
      >>> m.name, [p.name for p in m.params]
      ('mixture3p[p_swap=0]', ['p_mem', 'sd_rad'])
    """
    check_model(model)
    values = dict(values)
    bounds = {p.name: p for p in model.params}
    if not values:
        raise CogsimError(
            f"fix {model.name!r}: got no parameter values; allowed: one or more of {sorted(bounds)}"
        )
    held = {}
    for key, value in values.items():
        p = bounds.get(key)
        if p is None:
            allowed = ", ".join(bounds) or "none (no parameters)"
            raise CogsimError(f"fix {model.name!r}: got parameter {key!r}; allowed: {allowed}")
        try:
            v = math.nan if isinstance(value, (str, bytes, bool, np.bool_)) else float(value)  # no "1", True
        except (TypeError, ValueError):
            v = math.nan
        if not math.isfinite(v) or not p.low <= v <= p.high:
            hint = " (one value across set sizes: cogsim.fit.share)" if str(value) == SHARED else ""
            raise CogsimError(
                f"fix {model.name!r}: got {key}={value!r}; allowed: a number from {p.low} to {p.high}{hint}"
            )
        held[key] = v
    ordered = tuple((p.name, held[p.name]) for p in model.params if p.name in held)
    if name is None:
        name = f"{model.name}[{','.join(f'{k}={_value_text(v)}' for k, v in ordered)}]"
    return _make(model, ordered, str(name))


def impossible_under(model, summary, by) -> str:
    """Why ``model``'s held values cannot stand for these data: the participants (``summary``'s rows, columns
    ``by``) whose maximised log-likelihood is ``-inf`` (their trials impossible under the held values at every
    start); "" when there are none or ``model`` holds no values.

    Example:
      >>> import pandas as pd
      >>> from cogsim.models.working_memory import MIXTURE2P
      >>> s = pd.DataFrame({"subject": ["a", "b"], "loglik": [-10.0, float("-inf")]})
      >>> impossible_under(fix(MIXTURE2P, {"p_mem": 1.0}), s, ("subject",)).split(" (")[0]
      "model 'mixture2p[p_mem=1]': the held p_mem=1 makes the trials of 1 of 2 participants impossible"
    """
    held = getattr(model, "fixed", None)
    if not held:
        return ""
    bad = summary[~np.isfinite(summary["loglik"].to_numpy(float))]
    if bad.empty:
        return ""
    who = ["/".join(str(v) for v in row) for row in bad[list(by)].drop_duplicates().itertuples(index=False)]
    n_all = len(summary[list(by)].drop_duplicates())
    values = ",".join(f"{k}={_value_text(v)}" for k, v in held.items())
    named = ", ".join(who[:5]) + (", ..." if len(who) > 5 else "")
    return (
        f"model {model.name!r}: the held {values} makes the trials of {len(who)} of {n_all} participants "
        f"impossible (log-likelihood -inf at every start: {named}); "
        "allowed: held values under which every participant's trials have a finite likelihood (a bound "
        "itself only where the likelihood is finite there)"
    )


#: the value of ``--models 'name[param=shared]'``: one value across set sizes
SHARED = "shared"
_SPEC = re.compile(r"^\s*([^\[\]=,\s]+)\s*(?:\[([^\[\]]*)\])?\s*$")


def split_models(text: str) -> list[str]:
    """The comma-separated items of ``--models`` (or of ``--prior``), commas inside brackets or parentheses
    kept; empty items dropped.

    Example:
      >>> split_models("mixture2p, mixture3p[p_swap=0,sd_rad=0.3]")
      ['mixture2p', 'mixture3p[p_swap=0,sd_rad=0.3]']
    """
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += {"[": 1, "]": -1, "(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    return [s for s in out if s]


def parse_spec(text: str) -> tuple[str, dict[str, float]]:
    """``"mixture3p[p_swap=0,sd_rad=0.3]"`` -> ``("mixture3p", {"p_swap": 0.0, "sd_rad": 0.3})``; a plain
    name gives no values; the value ``shared`` (one value across set sizes, :func:`cogsim.fit.share`) stays
    the string ``"shared"``.

    Raises:
      CogsimError: a malformed specification (one line naming it and the allowed form).

    Example:
      >>> parse_spec("mixture3p[p_swap=0]")
      ('mixture3p', {'p_swap': 0.0})
    """
    form = (
        "a model name, or name[parameter=value,...] with a number, or shared for one value across set sizes "
        "(e.g. mixture3p[p_swap=0], mixture2p[sd_rad=shared])"
    )
    m = _SPEC.match(text)
    if m is None:
        raise CogsimError(f"fit --models: got {text!r}; allowed: {form}")
    base, inside = m.group(1), m.group(2)
    if inside is None:
        return base, {}
    values = {}
    for item in inside.split(","):
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        try:
            number = SHARED if value == SHARED else float(value)
        except ValueError:
            number = None
        if key in values:
            raise CogsimError(f"fit --models: got {text!r}: {key!r} is given twice; allowed: one value each")
        if not eq or not key or number is None:
            raise CogsimError(f"fit --models: got {text!r} (item {item.strip()!r}); allowed: {form}")
        values[key] = number
    return base, values
