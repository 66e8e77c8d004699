"""Named prior densities (``normal(0, 1)``, ``lognormal(-1, 0.5)``, ``beta(2, 2)``, ...): a log-density a
fit (MAP) or the sampler takes as a parameter's prior, with its support checked against the parameter's
bounds and a text form that round-trips (the command line's ``--prior`` and the run files)."""

from __future__ import annotations

import dataclasses
import math
import numbers
import re

import jax
import jax.numpy as jnp
from jax.scipy import stats

from cogsim.errors import CogsimError

_INF = math.inf


def _positive(*names):
    return {n: "> 0" for n in names}


#: family -> (argument names, argument rules, support (low, high) from the arguments, log-density)
_FAMILIES = {
    "normal": (
        ("mean", "sd"),
        _positive("sd"),
        lambda a: (-_INF, _INF),
        lambda x, m, s: stats.norm.logpdf(x, m, s),
    ),
    "lognormal": (
        ("meanlog", "sdlog"),
        _positive("sdlog"),
        lambda a: (0.0, _INF),
        lambda x, m, s: stats.norm.logpdf(jnp.log(x), m, s) - jnp.log(x),
    ),
    "halfnormal": (
        ("sd",),
        _positive("sd"),
        lambda a: (0.0, _INF),
        lambda x, s: jnp.where(x >= 0, stats.norm.logpdf(x, 0.0, s) + math.log(2.0), -jnp.inf),
    ),
    "beta": (
        ("a", "b"),
        _positive("a", "b"),
        lambda a: (0.0, 1.0),
        lambda x, a, b: stats.beta.logpdf(x, a, b),
    ),
    "gamma": (
        ("shape", "rate"),
        _positive("shape", "rate"),
        lambda a: (0.0, _INF),
        lambda x, k, r: stats.gamma.logpdf(x, k, scale=1.0 / r),
    ),
    "exponential": (
        ("rate",),
        _positive("rate"),
        lambda a: (0.0, _INF),
        lambda x, r: stats.expon.logpdf(x, scale=1.0 / r),
    ),
    "uniform": (
        ("low", "high"),
        {"high": "> low"},
        lambda a: (a[0], a[1]),
        lambda x, lo, hi: stats.uniform.logpdf(x, lo, hi - lo),
    ),
    "student_t": (
        ("df", "loc", "scale"),
        _positive("df", "scale"),
        lambda a: (-_INF, _INF),
        lambda x, df, m, s: stats.t.logpdf(x, df, m, s),
    ),
    "cauchy": (
        ("loc", "scale"),
        _positive("scale"),
        lambda a: (-_INF, _INF),
        lambda x, m, s: stats.cauchy.logpdf(x, m, s),
    ),
}
FAMILIES = tuple(_FAMILIES)


def _signature(family: str) -> str:
    return f"{family}({', '.join(_FAMILIES[family][0])})"


@dataclasses.dataclass(frozen=True)
class Density:
    """A named prior density: ``Density("lognormal", (-1.0, 0.5))`` is the log-normal with ``log x ~
    N(-1, 0.5^2)``. Called on a value it returns the log-density (JAX-traceable), so it can stand wherever a
    prior function is taken (:func:`cogsim.fit.fit`'s and :func:`cogsim.fit.sample`'s ``prior``).

    Families and arguments: ``normal(mean, sd)``, ``lognormal(meanlog, sdlog)``, ``halfnormal(sd)``,
    ``beta(a, b)``, ``gamma(shape, rate)``, ``exponential(rate)``, ``uniform(low, high)``,
    ``student_t(df, loc, scale)``, ``cauchy(loc, scale)``.

    Example:
      >>> d = Density("beta", (2.0, 2.0))
      >>> str(d), round(float(d(0.5)), 4)  # log(6 * 0.5 * 0.5)
      ('beta(2, 2)', 0.4055)
    """

    family: str
    args: tuple[float, ...]

    def __post_init__(self):
        if self.family not in _FAMILIES:
            raise CogsimError(f"prior family: got {self.family!r}; allowed: {', '.join(FAMILIES)}")
        names, rules, _, _ = _FAMILIES[self.family]
        args = tuple(self.args)
        if len(args) != len(names) or not all(
            isinstance(a, numbers.Real) and not isinstance(a, bool) and math.isfinite(a) for a in args
        ):
            raise CogsimError(
                f"prior {self.family}: got arguments {args!r}; allowed: {len(names)} finite numbers, "
                f"{_signature(self.family)}"
            )
        vals = dict(zip(names, args, strict=True))
        for name, rule in rules.items():
            bound = 0.0 if rule == "> 0" else vals[rule.split()[-1]]
            if not vals[name] > bound:
                raise CogsimError(
                    f"prior {self.family}: got {name}={vals[name]!r}; allowed: {name} {rule} "
                    f"({_signature(self.family)})"
                )
        object.__setattr__(self, "args", tuple(float(a) for a in args))

    def __call__(self, x: jax.Array) -> jax.Array:
        return _FAMILIES[self.family][3](jnp.asarray(x), *self.args)

    def __str__(self) -> str:
        return f"{self.family}({', '.join(f'{a:g}' for a in self.args)})"

    @property
    def support(self) -> tuple[float, float]:
        """The interval outside which the density is zero."""
        return _FAMILIES[self.family][2](self.args)

    def check_covers(self, name: str, low: float, high: float, where: str = "prior") -> None:
        """Raises a one-line error unless the density is positive on the whole range ``(low, high)`` of the
        parameter ``name`` (a density that is zero inside the bounds leaves the fit and the sampler at minus
        infinity there)."""
        lo, hi = self.support
        if low < lo or high > hi:
            raise CogsimError(
                f"{where} {name}={self}: its support is [{lo:g}, {hi:g}], the parameter's bounds are "
                f"({low:g}, {high:g}); allowed: a density positive over the whole bounds"
            )


_TEXT = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$")


def parse_density(text: str) -> Density:
    """The :class:`Density` written ``family(arg, ...)``, e.g. ``"gamma(2, 0.5)"``; one-line errors name
    the text and what is allowed.

    Example:
      >>> parse_density("lognormal(-1, 0.5)")
      Density(family='lognormal', args=(-1.0, 0.5))
    """
    m = _TEXT.match(text) if isinstance(text, str) else None
    if m is None or m.group(1) not in _FAMILIES:
        raise CogsimError(
            f"prior: got {text!r}; allowed: " + ", ".join(_signature(f) for f in FAMILIES) + " with numbers"
        )
    family, body = m.groups()
    try:
        args = tuple(float(a) for a in body.split(",")) if body.strip() else ()
    except ValueError:
        raise CogsimError(
            f"prior: got {text!r}; allowed: numbers as the arguments of {_signature(family)}"
        ) from None
    return Density(family, args)
