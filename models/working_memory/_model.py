"""The model object every working-memory model is: parameters, per-trial log-likelihood and simulator."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from cogsim.errors import CogsimError, DataError
from cogsim.models.working_memory._circular import mixture_by_set_size


@dataclasses.dataclass(frozen=True)
class Spec:
    """One parameter's name, bounds, start value and meaning (turned into a ``cogsim.fit.Param``)."""

    name: str
    low: float
    high: float
    default: float
    doc: str


@dataclasses.dataclass(frozen=True)
class WMModel:
    """A working-memory model in the form ``cogsim.fit`` fits (see ``cogsim.fit.Model``).

    Attributes:
      name: the model's name on the command line and in the tables.
      specs: the parameters (name, bounds, start value, meaning).
      by_set_size: one parameter set per set size (True) or one shared by all set sizes.
      requires: trial arrays the likelihood reads besides the paradigm's columns.
      loglik_fn: ``(params, trials) -> [n_trials]`` log-likelihood, pure JAX.
      simulate_fn: ``(params, trials, key) -> {response column: [n_trials]}``.
      design_fn: ``(n_trials, key) -> {trial column: array}``, a default trial design for simulations
        (parameter recovery).
      doc: one line describing the model.
      pattern_columns: the paradigm's numbered columns a 2-D design array is written to by simulations
        (``"nontarget_{i}_rad"`` for the ``nontargets`` array), so a simulated frame reads back through
        the paradigm.
      starts: extra start points of the fit, each a tuple of ``(parameter, value)`` pairs in natural units
        (hashable, so the compiled solver stays cached per model; see ``cogsim.fit.Model``), e.g. one per
        integer-capacity segment of a likelihood with kinks.
      max_set_size: the largest set size the likelihood covers (the end of its per-set-size tables; a larger
        one gives a NaN log-likelihood), or None for no limit; ``cogsim.fit.fit`` refuses data beyond it.
      sign_invariant: trial columns whose sign the likelihood ignores (a von Mises error read through its
        cosine), so that ``cogsim.fit`` counts trials differing only in their sign as one distinct trial.
      tables_fn: ``(params, *, n_rows) -> (logw, kappa)``, each ``[n_rows, n_components]``: the von Mises
        mixture per set size ``1..n_rows`` (log weights with the normaliser, concentrations) that
        ``loglik_fn`` reads each trial's row of (:func:`._circular.mixture_by_set_size`), or None. With it,
        :meth:`specialise` cuts the tables at the data's largest set size and :meth:`loglik_parts` splits
        the likelihood into its parameter part and its per-trial part.
      n_rows: the set sizes the tables cover (None: ``max_set_size``); :meth:`specialise` sets it.
      inert_given_fn: ``(held values) -> names``, the parameters the likelihood does not depend on while
        others are held at those values (e.g. the memory precision once ``p_mem`` is held at 0), or None.
      inert_fn: ``(trials) -> names``, the parameters one unit's likelihood does not depend on given its
        trials (numpy arrays; see ``cogsim.fit.Model``), or None for none.
      sample_temperatures: replicas per chain ``cogsim.fit.sample`` runs when not told (1: plain HMC).
      min_set_sizes: the fewest distinct set sizes a participant's trials need for :attr:`confounded` to be
        identified (1: no need); ``cogsim fit`` prints a line for participants with fewer.
      confounded: the parameters that fewer set sizes leave not separately identified.
      confounded_why: what such a participant's trials give, in words (for that line).
    """

    name: str
    specs: tuple[Spec, ...]
    by_set_size: bool
    requires: tuple[str, ...]
    loglik_fn: Callable[..., jax.Array]
    simulate_fn: Callable[..., Mapping[str, jax.Array]]
    design_fn: Callable[..., Mapping[str, jax.Array]] | None = None
    doc: str = ""
    pattern_columns: tuple[str, ...] = ()
    starts: tuple[tuple[tuple[str, float], ...], ...] = ()
    max_set_size: int | None = None
    sign_invariant: tuple[str, ...] = ()
    tables_fn: Callable[..., tuple[jax.Array, jax.Array]] | None = None
    n_rows: int | None = None
    inert_fn: Callable[[Mapping[str, np.ndarray]], tuple[str, ...]] | None = None
    inert_given_fn: Callable[[Mapping[str, float]], tuple[str, ...]] | None = None
    sample_temperatures: int = 1
    min_set_sizes: int = 1
    confounded: tuple[str, ...] = ()
    confounded_why: str = ""

    @property
    def params(self):
        """The parameters as ``cogsim.fit.Param`` objects."""
        from cogsim.fit import Param

        return tuple(Param(s.name, s.low, s.high, default=s.default, doc=s.doc) for s in self.specs)

    def loglik(self, params: Mapping[str, jax.Array], trials: Mapping[str, jax.Array]) -> jax.Array:
        """Per-trial log-likelihood ``[n_trials]`` of one participant's trials (one set size's when
        ``by_set_size``) under scalar ``params``. Pure JAX: jit- and vmap-safe. Trial arrays of one value
        each (0-d) are one trial, and give a 0-d result (:func:`per_trial`).

        Raises:
          CogsimError: trial arrays of different lengths (:func:`per_trial`).
        """
        trials, one = per_trial(trials, self.name)
        ll = self.loglik_fn(params, trials)
        return ll[0] if one else ll

    def simulate(self, params, trials, *, key: jax.Array) -> dict[str, jax.Array]:
        """Simulated responses (the paradigm's response columns) for the trial design in ``trials``."""
        return dict(self.simulate_fn(params, trials, key))

    def design(self, n_trials: int, *, key: jax.Array) -> dict[str, jax.Array]:
        """A default trial design of ``n_trials`` trials (set sizes and, where needed, non-targets)."""
        return dict(self.design_fn(n_trials, key))

    def specialise(self, trials: Mapping[str, np.ndarray]) -> WMModel:
        """The model to fit ``trials`` with (all the data's trials; e.g. a DataFrame): for a model with
        :attr:`tables_fn`, one whose per-set-size tables end at the largest set size present (the same
        per-trial log-likelihood on these trials, at a fraction of the cost where the data's set sizes are
        few; NaN for a trial beyond it), else the model itself. Equal largest set sizes give the same
        object, so compiled programs are reused."""
        if self.tables_fn is None or self.max_set_size is None or "set_size" not in trials:
            return self
        n = np.asarray(trials["set_size"])
        if n.size == 0 or not np.issubdtype(n.dtype, np.number) or not np.all(np.isfinite(n)):
            return self
        top = float(np.max(n))
        if not (np.all(n == np.round(n)) and 1 <= np.min(n) and top < self.max_set_size):
            return self  # at the tables' end already, or data the fitting layer refuses
        return _cut(self, int(top))

    def loglik_parts(self):
        """``(tables, rows)`` with ``loglik(params, trials) == rows(tables(params), trials)`` (the same
        values, bit for bit): ``tables(params)`` the per-set-size mixture, ``rows(tables, trials)`` each
        trial's term from its own row; None without :attr:`tables_fn` (see ``cogsim.fit.Model``)."""
        if self.tables_fn is None:
            return None
        n = self.n_rows or self.max_set_size
        return functools.partial(self.tables_fn, n_rows=n), functools.partial(_mixture_rows, n_rows=n)

    def inert(self, trials: Mapping[str, np.ndarray]) -> tuple[str, ...]:
        """The parameters one unit's likelihood does not depend on, given its trials (none by default)."""
        return tuple(self.inert_fn(trials)) if self.inert_fn is not None else ()

    def inert_given(self, values: Mapping[str, float]) -> tuple[str, ...]:
        """The parameters the likelihood does not depend on while the parameters in ``values`` are held at
        those values (``cogsim.fit.fix``; none by default)."""
        return tuple(self.inert_given_fn(values)) if self.inert_given_fn is not None else ()

    def start_points(self) -> tuple[dict[str, float], ...]:
        """Extra start points of the fit, in natural units (none for most models)."""
        return tuple(dict(p) for p in self.starts)

    def check_trials(self, frame: pd.DataFrame, src: str) -> None:
        """Refuses trials a model would fit without a word but wrongly, on any DataFrame ``cogsim.fit`` is
        given, read by the paradigm or not: for a delayed-estimation model an angle column (``error_rad``,
        ``nontarget_{i}_rad``) with a value outside [-pi, pi] (degrees, or [0, 2 pi)); for a
        change-detection model a ``change`` or ``correct`` other than 0 or 1 and, where it reads
        ``base_rate``, a base rate outside [0, 1].

        Raises:
          DataError: naming the row, the column, the value and what is allowed.
        """
        if self.design_fn is change_detection_design:
            check_binary(frame, src, ("change", "correct"))
            if "base_rate" in self.requires:
                check_base_rate(frame, src)
            return
        if self.design_fn not in (delayed_estimation_design, single_set_size_design):
            return
        angles = [
            c
            for c in frame.columns
            if c == "error_rad" or (c.startswith("nontarget_") and c.endswith("_rad"))
        ]
        check_angles(frame, src, angles)

    def __repr__(self) -> str:
        return f"WMModel({self.name!r}, params={[s.name for s in self.specs]})"


def per_trial(trials: Mapping[str, jax.Array], who: str) -> tuple[dict, bool]:
    """``(trials, one)``: a model's trial arrays with a leading axis of trials, and whether they were one
    trial given as 0-d arrays (made ``[1]``; the caller returns its log-likelihood 0-d). Beside longer
    arrays a 0-d array is repeated for each trial. Arrays of the same length are returned as they are (the
    same objects). Shapes are static under ``jit``, so this is a Python check.

    Raises:
      CogsimError: naming the model (``who``), each column's length and what is allowed, where arrays of
        trials differ in length.

    Example:
      >>> t, one = per_trial({"set_size": 4, "error_rad": 0.5}, "vp")
      >>> t["set_size"].shape, one
      ((1,), True)
    """
    shapes = {k: np.shape(v) for k, v in trials.items()}
    lengths = {k: s[0] for k, s in shapes.items() if len(s)}
    if len(set(lengths.values())) > 1:
        got = ", ".join(f"{k!r} {n}" for k, n in lengths.items())
        raise CogsimError(
            f"{who}.loglik: trial arrays of different lengths ({got}); allowed: one value per trial in "
            "every column (arrays of the same length)"
        )
    if len(lengths) == len(shapes):
        return dict(trials), False
    n = next(iter(lengths.values()), 1)
    return {k: (v if shapes[k] else jnp.full((n,), v)) for k, v in trials.items()}, not lengths


def _mixture_rows(tables, trials, *, n_rows):
    ll = mixture_by_set_size(*tables, trials["set_size"], trials["error_rad"])
    return jnp.where(jnp.asarray(trials["set_size"]) <= n_rows, ll, jnp.nan)  # beyond the tables: NaN


def _cut_loglik(params, trials, *, tables_fn, n_rows):
    return _mixture_rows(tables_fn(params, n_rows=n_rows), trials, n_rows=n_rows)


@functools.lru_cache(maxsize=64)
def _cut(model: WMModel, n_rows: int) -> WMModel:
    """``model`` with its tables ending at set size ``n_rows`` (one object per model and size)."""
    fn = functools.partial(_cut_loglik, tables_fn=model.tables_fn, n_rows=n_rows)
    return dataclasses.replace(model, loglik_fn=fn, n_rows=n_rows)


DE_SET_SIZES = (1, 2, 4, 6, 8)
#: the delayed-estimation paradigm's numbered columns (the ``nontargets`` array)
DE_PATTERNS = ("nontarget_{i}_rad",)
CD_SET_SIZES = (2, 4, 6, 8)


def delayed_estimation_design(n_trials: int, key: jax.Array, set_sizes=DE_SET_SIZES) -> dict[str, jax.Array]:
    """Set sizes 1, 2, 4, 6, 8 in equal numbers (shuffled), non-targets uniform on the circle (NaN padded)."""
    k1, k2 = jax.random.split(key)
    reps = -(-n_trials // len(set_sizes))
    n = jax.random.permutation(k1, jnp.tile(jnp.asarray(set_sizes), reps)[:n_trials])
    width = max(DE_SET_SIZES) - 1
    nt = jax.random.uniform(k2, (n_trials, width), minval=-jnp.pi, maxval=jnp.pi)
    return {"set_size": n, "nontargets": jnp.where(jnp.arange(width)[None] < n[:, None] - 1, nt, jnp.nan)}


def single_set_size_design(n_trials: int, key: jax.Array) -> dict[str, jax.Array]:
    """All trials at set size 4 (for per-set-size models: every trial informs one parameter set)."""
    return delayed_estimation_design(n_trials, key, set_sizes=(4,))


def change_detection_design(n_trials: int, key: jax.Array) -> dict[str, jax.Array]:
    """Set sizes 2, 4, 6, 8 in equal numbers, change on half the trials, base rates 0.3 / 0.5 / 0.7."""
    k1, k2, k3 = jax.random.split(key, 3)
    reps = -(-n_trials // len(CD_SET_SIZES))
    n = jax.random.permutation(k1, jnp.tile(jnp.asarray(CD_SET_SIZES), reps)[:n_trials])
    base = jnp.asarray([0.3, 0.5, 0.7])[jax.random.randint(k3, (n_trials,), 0, 3)]
    return {"set_size": n, "change": jax.random.bernoulli(k2, base).astype(jnp.int32), "base_rate": base}


def row_error(src: str, row: int, column: str, value, allowed: str) -> DataError:
    """The one-line error for a bad cell: file (or frame), 1-based row, column, value, what is allowed."""
    value = value.item() if isinstance(value, np.generic) else value
    return DataError(f"{src}: row {row + 1}, column {column!r}: got {value!r}; allowed: {allowed}")


def check_angles(frame: pd.DataFrame, src: str, columns) -> None:
    """Refuses a value outside [-pi, pi] in any of ``columns`` (the first such row), with a hint where the
    column looks like degrees or like radians in [0, 2 pi)."""
    for col in columns:
        v = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(np.isfinite(v) & (np.abs(v) > math.pi + 1e-6))
        if len(bad):
            big = np.nanmax(np.abs(v))
            hint = ""
            if big <= 2 * math.pi + 1e-6 and np.nanmin(v) >= 0:  # none negative: a [0, 2 pi) convention
                hint = " (radians in [0, 2 pi)? wrap with (x + pi) % (2 * pi) - pi)"
            elif big <= 360:
                hint = " (these look like degrees: convert with radians = degrees * pi / 180)"
            raise row_error(src, int(bad[0]), col, float(v[bad[0]]), f"radians in [-pi, pi]{hint}")


def check_binary(frame: pd.DataFrame, src: str, columns) -> None:
    """Refuses a number other than 0 or 1 in any of ``columns`` present (the first such row; blanks and
    text are left to the fitting layer's own checks).

    Example:
      >>> try:
      ...     check_binary(pd.DataFrame({"correct": [1, 0, 2]}), "t.csv", ["correct"])
      ... except DataError as e:
      ...     print(e)
      t.csv: row 3, column 'correct': got 2; allowed: 0 or 1 (one row per trial)
    """
    for col in columns:
        if col not in frame.columns:
            continue
        v = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(~np.isnan(v) & (v != 0) & (v != 1))
        if len(bad):
            raise row_error(src, int(bad[0]), col, frame[col].iloc[bad[0]], "0 or 1 (one row per trial)")


def check_base_rate(frame: pd.DataFrame, src: str) -> None:
    """Refuses a ``base_rate`` (where the frame has one) that is not a probability in [0, 1], naming
    log-odds or percentages where the value looks like them."""
    if "base_rate" not in frame.columns:
        return
    v = pd.to_numeric(frame["base_rate"], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(v) | (v < 0) | (v > 1))
    if len(bad):
        x = v[bad[0]]
        hint = ""
        if np.isfinite(x) and x < 0:
            hint = " (log-odds? convert with p = 1 / (1 + exp(-x)))"
        elif np.isfinite(x) and 1 < x <= 100:
            hint = " (a percentage? divide by 100)"
        value = frame["base_rate"].iloc[bad[0]]
        raise row_error(src, int(bad[0]), "base_rate", value, f"a probability in [0, 1]{hint}")
