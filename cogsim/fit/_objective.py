"""The negative log-likelihood (or log-posterior) of one fitting unit in unconstrained coordinates."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from cogsim.errors import CogsimError
from cogsim.fit import _model
from cogsim.fit._trimmed import trimmed_loglik_sum, weighted_sum

#: a prior: parameter name -> log-density of the parameter's (constrained) value, JAX-traceable
Prior = Mapping[str, Callable[[jax.Array], jax.Array]]


def values(model, u: jax.Array) -> dict[str, jax.Array]:
    """Parameter name -> constrained value for the unconstrained vector ``u`` ``[k]``."""
    return {p.name: p.from_unconstrained(u[i]) for i, p in enumerate(model.params)}


def to_unconstrained(model, x: Mapping[str, float] | np.ndarray) -> jax.Array:
    """The unconstrained vector of parameter values given by name or as an array ``[..., k]``."""
    if isinstance(x, Mapping):
        return jnp.stack([p.to_unconstrained(x[p.name]) for p in model.params], axis=-1)
    x = jnp.asarray(x)
    return jnp.stack([p.to_unconstrained(x[..., i]) for i, p in enumerate(model.params)], axis=-1)


def default_u(model) -> jax.Array:
    """The unconstrained vector of the parameters' defaults."""
    if not model.params:
        return jnp.zeros((0,), jnp.float32)
    return jnp.stack([p.to_unconstrained(p.default) for p in model.params])


def check_prior(model, prior: Prior | None) -> dict:
    """The prior as a dict, after checking it names only the model's parameters."""
    if prior is None:
        return {}
    names = [p.name for p in model.params]
    for name, fn in dict(prior).items():
        if name not in names or not callable(fn):
            raise CogsimError(
                f"fit prior: got {name!r} -> {fn!r}; allowed: a parameter of {model.name!r} "
                f"({', '.join(names)}) mapped to a log-density function"
            )
        _check_density(name, fn)
    return dict(prior)


def _check_density(name: str, fn) -> None:
    """Refuses (one line) a prior function that does not map a float32 scalar to a real scalar, traced
    without computing anything (until 2026-12-07 a vector or text result met JAX's own errors mid-fit)."""
    try:
        out = jax.eval_shape(fn, jax.ShapeDtypeStruct((), jnp.float32))
        dtype = getattr(out, "dtype", None)
        ok = getattr(out, "shape", None) == () and any(
            jnp.issubdtype(dtype, t) for t in (jnp.floating, jnp.integer)
        )
        got = f"shape {getattr(out, 'shape', None)}, dtype {getattr(out, 'dtype', type(out).__name__)}"
    except Exception as exc:  # any failure of the user's function is named, not raised raw
        ok, got = False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if not ok:
        raise CogsimError(
            f"fit prior: {name!r} -> {fn!r} gave {got} for a float32 scalar; allowed: a JAX-traceable "
            "function of the parameter's value returning its log-density, a real scalar"
        )


def loglik_sum(
    model, u: jax.Array, trials, mask: jax.Array, trimmed: bool = False, widths: tuple[int, ...] | None = None
) -> jax.Array:
    """Summed log-likelihood of the unit's real (unmasked) trials; a float ``mask`` weights each row (the
    count of identical trials it stands for, :mod:`cogsim.fit._compress`; 0 on padding). For a model that
    declares ``loglik_parts()``, with ``trimmed`` by :func:`trimmed_loglik_sum` at ``widths`` (the same value
    up to float32 summation order; most of the padding after the last real row is not evaluated; not under
    ``vmap`` with a batched mask, where it would evaluate every width)."""
    parts = _model.loglik_parts(model) if trimmed else None
    if parts is not None:
        tables, rows = parts
        return trimmed_loglik_sum(lambda v: tables(values(model, v)), rows, u, trials, mask, widths)
    return weighted_sum(model.loglik(values(model, u), trials), jnp.asarray(mask))


def make_nll(
    model, prior: Prior | None = None, trimmed: bool = False, widths: tuple[int, ...] | None = None
) -> Callable[[jax.Array, dict, jax.Array], jax.Array]:
    """``nll(u, trials, mask)``: minus (summed log-likelihood + log-prior) of one unit (``trimmed``,
    ``widths``: see :func:`loglik_sum`)."""
    prior = check_prior(model, prior)

    def nll(u, trials, mask):
        total = loglik_sum(model, u, trials, mask, trimmed, widths)
        if prior:
            vals = values(model, u)
            total = total + sum(prior[name](vals[name]) for name in prior)
        return -total

    return nll


def normal_nll(nll: Callable) -> Callable:
    """``nll(u, trials, mask, mean, sd)``: ``nll(u, trials, mask)`` plus minus the log-density of independent
    normals ``N(mean, sd^2)`` over the unconstrained values ``u`` (the group prior of a hierarchical fit;
    ``mean`` and ``sd`` ``[k]`` are traced, so one compiled program serves every prior).

    Example:
      >>> f = normal_nll(lambda u, t, m: jnp.sum(u**2))
      >>> round(float(f(jnp.array([1.0]), None, None, jnp.array([0.0]), jnp.array([2.0]))), 4)
      2.7371
    """

    def with_prior(u, trials, mask, mean, sd):
        z = (u - mean) / sd
        return nll(u, trials, mask) + jnp.sum(0.5 * z * z + jnp.log(sd) + 0.5 * np.log(2 * np.pi))

    return with_prior


def read_columns(model, trials: dict) -> tuple[str, ...]:
    """The trial columns ``model.loglik`` reads at its default parameters, found by tracing it on one
    unit's trials ``{column: [n]}`` (a column that only flows into discarded values still counts: the
    answer may be too large, never too small).

    Example:
      >>> import jax.numpy as jnp
      >>> from cogsim.fit import Param
      >>> class M:
      ...     name, params = "m", (Param("mu"),)
      ...     def loglik(self, p, t):
      ...         return -((t["x"] - p["mu"]) ** 2)
      >>> read_columns(M(), {"x": jnp.zeros(3), "trial": jnp.arange(3)})
      ('x',)
    """
    params = values(model, default_u(model))
    names = sorted(trials)
    closed = jax.make_jaxpr(lambda *cols: model.loglik(params, dict(zip(names, cols, strict=True))))(
        *(trials[c] for c in names)
    )
    jaxpr = closed.jaxpr
    used = {id(v) for eqn in jaxpr.eqns for v in eqn.invars} | {id(v) for v in jaxpr.outvars}
    return tuple(c for c, v in zip(names, jaxpr.invars, strict=True) if id(v) in used)
