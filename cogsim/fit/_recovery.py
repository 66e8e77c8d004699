"""Parameter recovery (simulate participants from known values, refit, compare) and model recovery (a
confusion matrix: which model wins on data simulated from each)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from cogsim.errors import CogsimError, check_count
from cogsim.fit import _model
from cogsim.fit._fit import FitResult, fit
from cogsim.fit._hierarchical import fit_hierarchical
from cogsim.fit._key import check_key
from cogsim.fit._paradigm import pattern_key

#: a trial design: ``design(n_trials, *, key) -> {column: array [n_trials] or [n_trials, m]}``
Design = Callable[..., Mapping[str, jax.Array]]


@dataclasses.dataclass(frozen=True)
class RecoveryResult:
    """What :func:`recover` returns.

    Attributes:
      table: one row per parameter: ``parameter, truth_mean, estimate_mean, bias, rmse, correlation, n``
        (``n`` fitted units; ``correlation`` is NaN where the true value does not vary).
      truth: the true values, one row per simulated participant (``subject`` and one column per parameter).
      fit: the refit (its ``units`` table holds the estimates): a :class:`FitResult`, or a
        :class:`cogsim.fit.HierarchicalResult` with ``method="hierarchical"``.
    """

    table: pd.DataFrame
    truth: pd.DataFrame
    fit: FitResult


def draw_truth(model, params: Mapping, n_subjects: int, *, key: jax.Array) -> pd.DataFrame:
    """True values per participant: a number (the same for all), a ``(low, high)`` pair (uniform, parameter
    ``i`` keyed by ``fold_in(key, i)``) or ``n_subjects`` values.

    Raises:
      CogsimError: a parameter without a value, a name that is not one of the model's parameters, a
        range whose low is not below its high, or a value outside the parameter's bounds.
    """
    names = [p.name for p in model.params]
    unknown = [name for name in params if name not in names]
    if unknown:
        raise CogsimError(
            f"recover params: got {unknown[0]!r}; allowed: the parameters of model {model.name!r}: "
            f"{', '.join(names)}"
        )
    out = {"subject": np.arange(1, n_subjects + 1)}
    for i, p in enumerate(model.params):
        if p.name not in params:
            raise CogsimError(
                f"recover params: no value for {p.name!r}; allowed: a number, a (low, high) range or "
                f"{n_subjects} values for each of {', '.join(q.name for q in model.params)}"
            )
        spec = params[p.name]
        if np.ndim(spec) == 0:
            v = np.full(n_subjects, float(spec))
        elif isinstance(spec, tuple) and len(spec) == 2:
            if not float(spec[0]) < float(spec[1]):
                raise CogsimError(
                    f"recover params[{p.name!r}]: got {spec!r}; allowed: a (low, high) range with low < high "
                    "(a tuple of two is a range drawn uniformly; one value per participant: a list)"
                )
            v = np.asarray(
                jax.random.uniform(jax.random.fold_in(key, i), (n_subjects,), minval=spec[0], maxval=spec[1]),
                float,
            )
        else:
            v = np.asarray(spec, float)
            if v.shape != (n_subjects,):
                raise CogsimError(
                    f"recover params[{p.name!r}]: got shape {v.shape}; allowed: ({n_subjects},)"
                )
        check_inside(p, v, "recover params")
        out[p.name] = v
    return pd.DataFrame(out)


def check_inside(p, values, what: str) -> None:
    """Raises a CogsimError unless every value of parameter ``p`` lies inside its bounds (``what`` names the
    argument in the message)."""
    v = np.asarray(values, float)
    if not np.all((v > p.low) & (v < p.high)):
        raise CogsimError(
            f"{what}[{p.name!r}]: got values in [{np.min(v):.4g}, {np.max(v):.4g}]; allowed: inside "
            f"({p.low}, {p.high})"
        )


def default_ranges(model) -> dict[str, tuple[float, float]]:
    """Each parameter's range for simulated participants when none is given: the values whose
    unconstrained coordinate lies within 0.5 of the default's.

    Example:
      >>> from cogsim.fit import Param
      >>> class M:
      ...     params = (Param("p", 0.0, 1.0, default=0.5),)
      >>> [round(v, 3) for v in default_ranges(M())["p"]]
      [0.378, 0.622]
    """
    out = {}
    for p in model.params:
        u = float(p.to_unconstrained(p.default))
        a, b = (float(p.from_unconstrained(jnp.float32(u + d))) for d in (-0.5, 0.5))
        out[p.name] = (min(a, b), max(a, b))
    return out


def simulate_data(model, truth: pd.DataFrame, n_trials: int, *, key: jax.Array, design: Design | None = None):
    """A trial table (one row per trial, ``subject`` first) simulated from ``truth`` (a row per participant);
    participant ``s`` uses ``fold_in`` of ``key`` for its design and its responses.

    A 2-D design array (e.g. ``nontargets`` ``[n, m]``) becomes numbered columns named by the model's
    ``pattern_columns`` where one matches (``nontarget_1_rad``, ...; the paradigm's names, so the frame reads
    back through ``Paradigm.read``), else ``<stem>_1``, ``<stem>_2``, ...

    Raises:
      CogsimError: ``truth`` lacks the ``subject`` column or a parameter's column, a true value lies outside
        its parameter's bounds (as :func:`recover` refuses it), or ``n_trials`` is not an integer >= 1.

    Example:
      >>> from cogsim.fit import Param
      >>> class Coin:
      ...     name, params = "coin", (Param("p", 0.0, 1.0, default=0.5),)
      ...     def simulate(self, q, t, *, key):
      ...         return {"yes": (jax.random.uniform(key, t["trial"].shape) < q["p"]).astype(int)}
      ...     def design(self, n, *, key):
      ...         return {"trial": jnp.arange(n)}
      >>> truth = pd.DataFrame({"subject": [1, 2], "p": [0.05, 0.95]})
      >>> data = simulate_data(Coin(), truth, 40, key=jax.random.key(0))
      >>> data.columns.tolist(), len(data)
      (['subject', 'trial', 'yes'], 80)
      >>> data.groupby("subject")["yes"].sum().tolist()  # yes responses of 40
      [2, 38]
    """
    if not callable(getattr(model, "simulate", None)):
        raise CogsimError(f"model {model.name!r} has no simulate(); allowed: a model with simulate()")
    n_trials = check_count("simulate_data", "n_trials", n_trials)
    if not isinstance(truth, pd.DataFrame):
        raise CogsimError(
            f"simulate_data truth: got {type(truth).__name__}; allowed: a DataFrame, a row per participant"
        )
    for c in ("subject", *(p.name for p in model.params)):
        if c not in truth.columns:
            raise CogsimError(
                f"simulate_data truth: missing column {c!r}; allowed: a DataFrame with columns subject, "
                f"{', '.join(p.name for p in model.params)}; found: {', '.join(map(str, truth.columns))}"
            )
    for p in model.params:
        check_inside(p, truth[p.name].to_numpy(float), "simulate_data truth")
    design = design or getattr(model, "design", None)
    if not callable(design):
        raise CogsimError(
            f"recovery of {model.name!r}: no trial design; allowed: design=callable(n_trials, *, key) or a "
            "model with a design() method"
        )
    k_design, k_sim = jax.random.split(key)
    frames, patterns = [], set()
    named = {pattern_key(p): p for p in getattr(model, "pattern_columns", ())}
    for s, row in enumerate(truth.itertuples(index=False)):
        trials = {c: jnp.asarray(v) for c, v in design(n_trials, key=jax.random.fold_in(k_design, s)).items()}
        vals = {p.name: jnp.float32(getattr(row, p.name)) for p in model.params}
        resp = model.simulate(vals, trials, key=jax.random.fold_in(k_sim, s))
        cols = {"subject": np.full(n_trials, row.subject)}
        for c, v in {**trials, **resp}.items():
            v = np.asarray(v)
            if v.ndim == 2:  # e.g. "nontargets" [n, m] -> nontarget_1_rad ... nontarget_m_rad
                pattern = named.get(c) or f"{c[:-1] if c.endswith('s') else c}_{{i}}"
                patterns.add(pattern)
                for j in range(v.shape[1]):
                    cols[pattern.format(i=j + 1)] = v[:, j]
            else:
                cols[c] = v
        frames.append(pd.DataFrame(cols))
    data = pd.concat(frames, ignore_index=True)
    data.attrs["source"] = f"<simulated {model.name}>"
    data.attrs["pattern_columns"] = sorted(patterns)
    return data


def recover(
    model,
    params: Mapping,
    n_trials: int,
    n_subjects: int,
    *,
    key: jax.Array,
    design: Design | None = None,
    n_starts: int = 2,
    method: str = "ml",
) -> RecoveryResult:
    """Simulates ``n_subjects`` participants of ``n_trials`` trials from known values, refits them with
    :func:`fit` (or :func:`cogsim.fit.fit_hierarchical`), and reports bias, RMSE and correlation per
    parameter.

    Args:
      model: a model with ``simulate`` (and ``design`` unless ``design`` is given).
      params: parameter name -> a number, a ``(low, high)`` range drawn uniformly, or one value per
        participant.
      n_trials: trials per participant.
      n_subjects: simulated participants.
      key: root key (truth, design, responses and the fit use ``fold_in``/``split`` of it).
      design: ``design(n_trials, *, key) -> {column: array}`` (default: ``model.design``).
      n_starts: starts per refit (with ``method="hierarchical"``: per ML fit that starts EM).
      method: ``"ml"``: each participant fitted alone (:func:`fit`); ``"hierarchical"``: all of them with a
        normal group distribution (:func:`cogsim.fit.fit_hierarchical`, ``init="ml"``, no intervals), the
        estimates being the participants' MAPs. The truth and the data are the same for both.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from cogsim.fit import Param
      >>> class Gauss:
      ...     name, by_set_size, requires = "gauss", False, ()
      ...     params = (Param("mu"), Param("sd", 0.0, default=1.0))
      ...     def loglik(self, p, t):
      ...         return jax.scipy.stats.norm.logpdf(t["x"], p["mu"], p["sd"])
      ...     def simulate(self, p, t, *, key):
      ...         return {"x": p["mu"] + p["sd"] * jax.random.normal(key, t["trial"].shape)}
      ...     def design(self, n, *, key):
      ...         return {"trial": jnp.arange(n)}
      >>> r = recover(Gauss(), {"mu": (-1.0, 1.0), "sd": 0.5}, 200, 20, key=jax.random.key(0))
      >>> bool(r.table.set_index("parameter").loc["mu", "correlation"] > 0.9)
      True
    """
    check_key(key, what="recover")
    _model.check_model(model)
    if method not in ("ml", "hierarchical"):
        raise CogsimError(f"recover method: got {method!r}; allowed: 'ml' or 'hierarchical'")
    n_trials = check_count("recover", "n_trials", n_trials)
    n_subjects = check_count("recover", "n_subjects", n_subjects)
    k_truth, k_data, k_fit = (jax.random.fold_in(key, i) for i in range(3))
    truth = draw_truth(model, params, n_subjects, key=k_truth)
    data = simulate_data(model, truth, n_trials, key=k_data, design=design)
    if method == "ml":
        res = fit(model, data, by=("subject",), n_starts=n_starts, ci=None, key=k_fit)
    else:
        res = fit_hierarchical(model, data, by=("subject",), n_starts=n_starts, init="ml", ci=None, key=k_fit)
    merged = res.units.merge(truth, on="subject", suffixes=("", "_true"))
    rows = []
    for p in model.params:
        est, tru = merged[p.name].to_numpy(float), merged[f"{p.name}_true"].to_numpy(float)
        corr = float(np.corrcoef(est, tru)[0, 1]) if np.std(tru) > 0 and np.std(est) > 0 else np.nan
        rows.append(
            {
                "parameter": p.name,
                "truth_mean": float(tru.mean()),
                "estimate_mean": float(est.mean()),
                "bias": float(np.mean(est - tru)),
                "rmse": float(np.sqrt(np.mean((est - tru) ** 2))),
                "correlation": corr,
                "n": len(est),
            }
        )
    return RecoveryResult(pd.DataFrame(rows), truth, res)


def model_recovery(
    models: Sequence,
    n_trials: int,
    n_subjects: int,
    *,
    key: jax.Array,
    params: Mapping[str, Mapping] | None = None,
    design: Design | None = None,
    criterion: str = "aic",
    n_starts: int = 2,
) -> pd.DataFrame:
    """Model-recovery confusion matrix: rows the generating model, columns the fitted one, cells the
    fraction of simulated participants whose best model (lowest ``criterion``) is that column.

    Args:
      models: the candidate models (each with ``simulate``).
      n_trials: trials per participant.
      n_subjects: participants simulated from each model.
      key: root key (generating model ``g`` uses ``fold_in(key, g)``).
      params: model name -> recover-style parameter spec (default: :func:`default_ranges`).
      design: the trial design shared by all models (default: each generating model's ``design``).
      criterion: ``"aic"`` or ``"bic"``.
      n_starts: starts per fit.
    """
    check_key(key, what="model_recovery")
    if criterion not in ("aic", "bic"):
        raise CogsimError(f"model_recovery criterion: got {criterion!r}; allowed: 'aic' or 'bic'")
    scores = model_recovery_scores(
        models, n_trials, n_subjects, key=key, params=params, design=design, n_starts=n_starts
    )
    return confusion(scores, criterion)


def model_recovery_scores(
    models: Sequence,
    n_trials: int,
    n_subjects: int,
    *,
    key: jax.Array,
    params: Mapping[str, Mapping] | None = None,
    design: Design | None = None,
    n_starts: int = 2,
) -> pd.DataFrame:
    """Every candidate model fitted to participants simulated from every model: one row per generating
    model, participant and fitted model (``generating, subject, model, loglik, n_params, aic, bic,
    converged``); the arguments are :func:`model_recovery`'s. :func:`confusion` turns it into a confusion
    matrix."""
    models = list(models)
    names = [m.name for m in models]
    if len(set(names)) != len(names) or len(models) < 2:
        raise CogsimError(f"model_recovery models: got {names}; allowed: two or more distinctly named models")
    frames = []
    for g, gen in enumerate(models):
        kg = jax.random.fold_in(key, g)
        spec = (params or {}).get(gen.name) or default_ranges(gen)
        truth = draw_truth(gen, spec, n_subjects, key=jax.random.fold_in(kg, 0))
        data = simulate_data(gen, truth, n_trials, key=jax.random.fold_in(kg, 1), design=design)
        for j, m in enumerate(models):
            summary = fit(m, data, n_starts=n_starts, ci=None, key=jax.random.fold_in(kg, 2 + j)).summary
            frames.append(
                summary[["subject", "model", "loglik", "n_params", "aic", "bic", "converged"]].assign(
                    generating=gen.name
                )
            )
    cols = ["generating", "subject", "model", "loglik", "n_params", "aic", "bic", "converged"]
    return pd.concat(frames, ignore_index=True)[cols]


def confusion(scores: pd.DataFrame, criterion: str = "aic") -> pd.DataFrame:
    """The confusion matrix of :func:`model_recovery_scores`' table: rows the generating model, columns the
    fitted one, cells the fraction of that model's simulated participants whose lowest ``criterion`` is
    that column's (models in order of first appearance).

    Example:
      >>> import pandas as pd
      >>> s = pd.DataFrame({"generating": ["a"] * 4 + ["b"] * 4, "subject": [1, 1, 2, 2] * 2,
      ...                   "model": ["a", "b"] * 4, "aic": [1.0, 2.0, 3.0, 2.0, 5.0, 4.0, 6.0, 5.0]})
      >>> confusion(s).to_numpy().tolist()
      [[0.5, 0.5], [0.0, 1.0]]
    """
    if criterion not in ("aic", "bic"):
        raise CogsimError(f"confusion criterion: got {criterion!r}; allowed: 'aic' or 'bic'")
    names = list(dict.fromkeys(scores["model"]))
    gens = list(dict.fromkeys(scores["generating"]))
    index, columns = pd.Index(gens, name="generating"), pd.Index(names, name="fitted")
    matrix = pd.DataFrame(0.0, index=index, columns=columns)
    for gen, part in scores.groupby("generating", sort=False):
        table = part.pivot(index="subject", columns="model", values=criterion)[names]
        winners = table.idxmin(axis=1)
        matrix.loc[gen] = winners.value_counts(normalize=True).reindex(names, fill_value=0.0).to_numpy()
    return matrix
