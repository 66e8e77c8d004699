"""A per-set-size model with some parameters shared across set sizes (``cogsim.fit.share``).

A model fitted per set size (``by_set_size``, e.g. the two-component mixture) estimates every parameter
anew at every set size. Whether a parameter really changes with set size is a question of its own: Zhang &
Luck (2008) asked whether the memory SD stays constant above capacity, as slots predict; bmm's formulas
(``kappa ~ 1`` against ``kappa ~ 0 + set_size``) and MemToolbox's model variants ask it the same way. The
shared model is fitted per participant over all set sizes at once, with one value of each shared parameter
and one value per set size of each other parameter, named ``p_mem[3]`` (the result tables list it as
parameter ``p_mem`` at set size 3). Nested in the per-set-size model, it is compared with it by AIC/BIC or
:func:`cogsim.fit.lr_test`. On the command line, ``--models 'mixture2p[sd_rad=shared]'``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from cogsim.errors import CogsimError
from cogsim.fit._model import by_set_size, check_model

#: the optional methods of the base model a shared model passes on, present only where the base has them
_WRAPPED = ("simulate", "start_points", "initial")
#: base-model attributes a shared model does not take over (its design draws one set size per participant;
#: its split likelihood is per set size)
_NOT_PASSED = ("design", "loglik_parts")


def level_name(name: str, set_size: int) -> str:
    """The name of parameter ``name`` at one set size: ``p_mem[3]``."""
    return f"{name}[{set_size}]"


@dataclasses.dataclass(frozen=True)
class Shared:
    """``base`` fitted over all set sizes at once, the ``shared`` parameters one value across them (build it
    with :func:`share`).

    Attributes:
      base: the per-set-size model.
      shared: the parameters with one value across set sizes.
      set_sizes: the set sizes, ascending; every other parameter has one value at each.
      name: the model's name in the result tables.

    Example:
      >>> from cogsim.fit import share
      >>> from cogsim.models.working_memory import MIXTURE2P
      >>> m = share(MIXTURE2P, ["sd_rad"], set_sizes=[1, 4])
      >>> m.levels()
      {'p_mem[1]': ('p_mem', 1), 'p_mem[4]': ('p_mem', 4)}
      >>> params = {"p_mem[1]": 0.9, "p_mem[4]": 0.5, "sd_rad": 0.5}
      >>> trials = {"set_size": jnp.array([1, 4]), "error_rad": jnp.array([3.0, 3.0])}
      >>> [round(float(v), 2) for v in m.loglik(params, trials)]  # guesses: log((1 - p_mem) / 2 pi)
      [-4.14, -2.53]
    """

    base: object
    shared: tuple[str, ...]
    set_sizes: tuple[int, ...]
    name: str

    by_set_size = False

    @property
    def params(self):
        """The shared parameters, and the others once per set size (``p_mem[1]``, ``p_mem[2]``, ...), in the
        base model's order."""
        out = []
        for p in self.base.params:
            if p.name in self.shared:
                out.append(p)
            else:
                out.extend(dataclasses.replace(p, name=level_name(p.name, n)) for n in self.set_sizes)
        return tuple(out)

    @property
    def max_set_size(self) -> int:
        return self.set_sizes[-1]

    def levels(self) -> dict[str, tuple[str, int]]:
        """``{parameter: (base parameter, set size)}`` for the parameters that differ by set size (the result
        tables list them under the base name and that set size)."""
        return {
            level_name(p.name, n): (p.name, n)
            for p in self.base.params
            if p.name not in self.shared
            for n in self.set_sizes
        }

    def _per_trial(self, params, set_size):
        """The base model's parameters, each trial's own: the shared ones as scalars, the others picked by
        the trial's set size."""
        sizes = jnp.asarray(self.set_sizes)
        idx = jnp.clip(jnp.searchsorted(sizes, jnp.asarray(set_size)), 0, len(self.set_sizes) - 1)
        out = {}
        for p in self.base.params:
            if p.name in self.shared:
                out[p.name] = params[p.name]
            else:
                out[p.name] = jnp.stack([params[level_name(p.name, n)] for n in self.set_sizes])[idx]
        return out

    def loglik(self, params, trials):
        """The base model's per-trial log-likelihood, each trial at its set size's parameters."""
        return self.base.loglik(self._per_trial(params, trials["set_size"]), trials)

    def specialise(self, trials):
        """This model, after checking that the data's set sizes are among its own."""
        have = sorted({int(v) for v in np.unique(np.asarray(trials["set_size"]))})
        extra = [n for n in have if n not in self.set_sizes]
        if extra:
            raise CogsimError(
                f"model {self.name!r}: the data have set size {extra[0]}; allowed: the set sizes it was "
                f"built for, {list(self.set_sizes)} (cogsim.fit.share(..., set_sizes=...))"
            )
        return self

    def inert(self, trials) -> tuple[str, ...]:
        """A set size's parameters where the unit has no trial at that set size, and those the base model
        declares inert at a set size (e.g. the swap rate at set size 1)."""
        ss = np.asarray(trials["set_size"])
        base_inert = getattr(self.base, "inert", None)
        varying = [p.name for p in self.base.params if p.name not in self.shared]
        out, shared_inert = [], set(self.shared)
        for n in self.set_sizes:
            here = ss == n
            if not here.any():
                out += [level_name(v, n) for v in varying]
                continue
            part = {c: np.asarray(a)[here] for c, a in trials.items()}
            held = set(base_inert(part)) if base_inert else set()
            out += [level_name(v, n) for v in varying if v in held]
            shared_inert &= held  # a shared parameter is inert only where every set size leaves it so
        return (*sorted(shared_inert, key=self.shared.index), *out)

    def __getattr__(self, attr):
        if attr.startswith("__") or attr in ("base", "shared", "set_sizes", "name") or attr in _NOT_PASSED:
            raise AttributeError(attr)
        inner = getattr(self.base, attr)  # AttributeError where the base model has none: so has this one
        if attr not in _WRAPPED:
            return inner  # requires, pattern_columns, sign_invariant, ...
        if not callable(inner):
            raise AttributeError(attr)
        return functools.partial(getattr(Shared, f"_{attr}"), self)

    def _simulate(self, params, trials, *, key):
        return self.base.simulate(self._per_trial(params, trials["set_size"]), trials, key=key)

    def _expand(self, point: dict) -> dict:
        out = {}
        for k, v in point.items():
            if k in self.shared:
                out[k] = v
            else:
                out.update({level_name(k, n): v for n in self.set_sizes})
        return out

    def _start_points(self):
        return tuple(self._expand(dict(p)) for p in self.base.start_points())

    def _initial(self, trials):
        return self._expand(dict(self.base.initial(trials)))

    def __repr__(self) -> str:
        return f"Shared({self.name!r}, shared={list(self.shared)}, set_sizes={list(self.set_sizes)})"


@functools.lru_cache(maxsize=64)
def _make(base, shared, set_sizes, name) -> Shared:
    """One object per (base model, shared parameters, set sizes, name), so compiled programs are reused."""
    return Shared(base, shared, set_sizes, name)


def share(model, shared: Sequence[str], *, set_sizes: Sequence[int], name: str | None = None) -> Shared:
    """``model`` (fitted per set size) with the ``shared`` parameters one value across set sizes.

    Args:
      model: a :class:`cogsim.fit.Model` with ``by_set_size`` (or one with parameters held by
        :func:`cogsim.fit.fix`).
      shared: the parameters with one value across set sizes (at least one; not all of them, which would
        make every parameter shared: then fit the model to all set sizes pooled).
      set_sizes: the set sizes of the data (each other parameter gets one value at each; a participant
        without trials at a set size has those parameters inert: not counted, reported as NaN).
      name: the model's name in the tables (default ``"<name>[<param>=shared,...]"``).

    Returns:
      A model fitted per participant over all set sizes; every fitting function takes it.

    Raises:
      CogsimError: a model not fitted per set size, an unknown or repeated parameter, every parameter
        shared, or set sizes that are not distinct positive integers.

    Example:
      >>> from cogsim.fit import share
      >>> from cogsim.models.working_memory import MIXTURE2P
      >>> m = share(MIXTURE2P, ["sd_rad"], set_sizes=[1, 2, 4])
      >>> m.name, [p.name for p in m.params]
      ('mixture2p[sd_rad=shared]', ['p_mem[1]', 'p_mem[2]', 'p_mem[4]', 'sd_rad'])
    """
    check_model(model)
    if not by_set_size(model):
        raise CogsimError(
            f"share {model.name!r}: the model is not fitted per set size; allowed: a model with by_set_size "
            "(its parameters already hold across set sizes)"
        )
    names = [p.name for p in model.params]
    shared = tuple(shared) if not isinstance(shared, str) else (shared,)
    for s in shared:
        if s not in names:
            raise CogsimError(f"share {model.name!r}: got parameter {s!r}; allowed: one of {names}")
    if not shared or len(set(shared)) != len(shared) or len(shared) == len(names):
        raise CogsimError(
            f"share {model.name!r}: got shared parameters {list(shared)}; allowed: distinct parameters of "
            f"{names}, at least one and not all"
        )
    try:
        sizes = sorted(int(n) for n in set_sizes)
    except (TypeError, ValueError):
        sizes = []
    whole = sizes == sorted(float(n) for n in set_sizes)
    if not sizes or len(set(sizes)) != len(sizes) or sizes[0] < 1 or not whole:
        raise CogsimError(
            f"share {model.name!r} set_sizes: got {list(set_sizes)!r}; allowed: distinct positive integers"
        )
    shared = tuple(n for n in names if n in shared)  # the base model's order
    if name is None:
        held = ",".join(f"{s}=shared" for s in shared)
        fixed = model.name.endswith("]") and "[" in model.name  # mixture3p[p_swap=0] -> one bracket
        name = f"{model.name[:-1]},{held}]" if fixed else f"{model.name}[{held}]"
    return _make(model, shared, tuple(sizes), str(name))
