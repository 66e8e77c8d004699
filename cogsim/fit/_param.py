"""A model parameter: name, bounds, start value, and the unconstrained transform chosen from the bounds."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from cogsim.errors import CogsimError


@dataclasses.dataclass(frozen=True)
class Param:
    """One free parameter of a model.

    The optimiser works on an unconstrained value ``u``; the transform is chosen from the bounds:
    both finite: ``low + (high - low) * sigmoid(u)`` (scaled logit); only ``low``: ``low + softplus(u)``;
    only ``high``: ``high - softplus(u)``; neither: identity.

    Attributes:
      name: the parameter's name in the model's ``loglik`` mapping and in the result tables.
      low: lower bound (``-inf`` for none).
      high: upper bound (``inf`` for none).
      default: a start value strictly inside the bounds.
      doc: one line describing the parameter.

    Example:
      >>> p = Param("p_mem", 0.0, 1.0, default=0.5)
      >>> float(p.from_unconstrained(p.to_unconstrained(0.8)))  # doctest: +ELLIPSIS
      0.8...
    """

    name: str
    low: float = -math.inf
    high: float = math.inf
    default: float = 0.0
    doc: str = ""

    def __post_init__(self):
        if not self.name or not isinstance(self.name, str):
            raise CogsimError(f"Param name: got {self.name!r}; allowed: a non-empty string")
        if math.isnan(self.low) or math.isnan(self.high) or not self.low < self.high:
            raise CogsimError(
                f"Param {self.name!r} bounds: got low={self.low!r}, high={self.high!r}; allowed: low < high"
            )
        if not self.low < self.default < self.high:
            raise CogsimError(
                f"Param {self.name!r} default: got {self.default!r}; "
                f"allowed: strictly inside ({self.low}, {self.high})"
            )

    @property
    def transform(self) -> str:
        """``"logit"``, ``"softplus"``, ``"neg_softplus"`` or ``"identity"``."""
        lo, hi = math.isfinite(self.low), math.isfinite(self.high)
        return {(True, True): "logit", (True, False): "softplus", (False, True): "neg_softplus"}.get(
            (lo, hi), "identity"
        )

    def from_unconstrained(self, u: jax.Array) -> jax.Array:
        """The parameter's value for the unconstrained value ``u``."""
        t = self.transform
        if t == "logit":
            return self.low + (self.high - self.low) * jax.nn.sigmoid(u)
        if t == "softplus":
            return self.low + jax.nn.softplus(u)
        if t == "neg_softplus":
            return self.high - jax.nn.softplus(u)
        return jnp.asarray(u)

    def log_jacobian(self, u: jax.Array) -> jax.Array:
        """``log |d value / d u|`` at the unconstrained value ``u``: what a density over the parameter's own
        values gains when taken over ``u`` (posterior sampling in unconstrained coordinates).

        Example:
          >>> p = Param("p", 0.0, 2.0, default=1.0)
          >>> round(float(p.log_jacobian(0.0)), 4)  # log(2 * 0.5 * 0.5)
          -0.6931
        """
        u = jnp.asarray(u, jnp.float32)
        t = self.transform
        if t == "logit":
            return math.log(self.high - self.low) + jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u)
        if t in ("softplus", "neg_softplus"):
            return jax.nn.log_sigmoid(u)
        return jnp.zeros_like(u)

    def to_unconstrained(self, x) -> jax.Array:
        """The unconstrained value of the parameter value ``x`` (inside the bounds)."""
        x = jnp.asarray(x, jnp.float32)
        t = self.transform
        if t == "logit":
            z = jnp.clip((x - self.low) / (self.high - self.low), 1e-6, 1 - 1e-6)
            return jnp.log(z) - jnp.log1p(-z)
        if t in ("softplus", "neg_softplus"):
            d = jnp.maximum(x - self.low if t == "softplus" else self.high - x, 1e-6)
            return d + jnp.log(-jnp.expm1(-d))  # inverse softplus
        return x


def check_params(params: tuple[Param, ...], where: str) -> None:
    """Raises a CogsimError unless ``params`` is a tuple of Params with distinct names (a model without free
    parameters, e.g. pure guessing, has an empty tuple)."""
    if not all(isinstance(p, Param) for p in params):
        raise CogsimError(
            f"{where}.params: got {params!r}; allowed: a tuple of cogsim.fit.Param (may be empty)"
        )
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise CogsimError(f"{where}.params: duplicate names {names}; allowed: distinct names")
