"""``cogsim fit --prior SPEC``: priors on the chosen models' parameters, written on the command line.

``SPEC`` is a comma-separated list of ``[MODEL.]PARAM=FAMILY(ARGS)``, e.g.
``'sd_rad=lognormal(-1, 0.5),p_mem=beta(2, 2),vp.tau=gamma(2, 0.1)'`` (families: :class:`cogsim.fit.Density`).
A ``PARAM`` without a model applies to every chosen model that has the parameter, and to its copies per set
size where the model shares it (``p_mem`` also sets ``p_mem[1]``, ``p_mem[2]``, ... of
``mixture2p[sd_rad=shared]``); ``MODEL.PARAM`` to that model alone, and it takes precedence. A parameter
without a prior keeps a flat one: the fits are MAP estimates (:func:`cogsim.fit.fit` with ``prior``) where a
model has a prior, and ``--sample`` samples under the same priors (uniform over the bounds where none is
given). Every prior's density must be positive over its parameter's whole bounds.
"""

from __future__ import annotations

from cogsim.errors import CogsimError
from cogsim.fit._density import Density, parse_density
from cogsim.fit._fixed import split_models

FORM = "[MODEL.]PARAM=FAMILY(ARGS), comma-separated, e.g. 'sd_rad=lognormal(-1, 0.5),p_mem=beta(2, 2)'"


def add_argument(p) -> None:
    """The ``--prior`` option of ``cogsim fit``."""
    p.add_argument(
        "--prior",
        default=None,
        metavar="SPEC",
        help="priors, " + FORM.replace("%", "%%") + " (MODEL. limits one to a model); the estimates become "
        "MAP estimates and --sample uses them (families: normal, lognormal, halfnormal, beta, gamma, "
        "exponential, uniform, student_t, cauchy; default: none, maximum likelihood)",
    )


def _split(item: str) -> tuple[str, str]:
    """``TARGET=DENSITY`` split at the first ``=`` outside brackets."""
    depth = 0
    for i, ch in enumerate(item):
        depth += (ch in "([") - (ch in ")]")
        if ch == "=" and depth == 0:
            return item[:i].strip(), item[i + 1 :].strip()
    raise CogsimError(f"fit --prior: got {item.strip()!r}; allowed: {FORM}")


def _matches(model, param: str) -> list:
    """The parameters of ``model`` named ``param`` or ``param[...]`` (its copies per set size)."""
    return [p for p in model.params if p.name == param or p.name.startswith(param + "[")]


def parse(text: str | None, chosen: dict) -> dict[str, dict[str, Density]]:
    """Model name -> {parameter name -> :class:`Density`} for the chosen models, from ``--prior``'s text;
    one-line errors name the item and what is allowed (an unknown model or parameter, a parameter given twice,
    a density that is zero somewhere inside the parameter's bounds).

    Example:
      >>> from cogsim.fit import Param
      >>> class M:
      ...     name, params = "m", (Param("sd", 0.0, 4.0, default=1.0),)
      >>> parse("sd=lognormal(0, 1)", {"m": M()})
      {'m': {'sd': Density(family='lognormal', args=(0.0, 1.0))}}
    """
    if text is None:
        return {}
    if not text.strip():
        raise CogsimError(f"fit --prior: got {text!r}; allowed: {FORM}")
    general, specific = {}, {}
    for item in split_models(text):
        target, density_text = _split(item)
        model_name, _, param = target.rpartition(".")
        try:
            density = parse_density(density_text)
        except CogsimError as e:  # the option's name first: "fit --prior normal: got sd=-1.0; ..."
            raise CogsimError(f"fit --{e}") from None
        if model_name and model_name not in chosen:
            raise CogsimError(
                f"fit --prior: got model {model_name!r} in {item.strip()!r}; allowed: a chosen model "
                f"({', '.join(chosen)})"
            )
        where = [model_name] if model_name else list(chosen)
        if not any(_matches(chosen[m], param) for m in where):
            names = sorted({p.name for m in where for p in chosen[m].params})
            raise CogsimError(
                f"fit --prior: got parameter {param!r} in {item.strip()!r}; allowed: a parameter of "
                f"{model_name or 'the chosen models'} ({', '.join(names) or 'none'})"
            )
        into = specific.setdefault(model_name, {}) if model_name else general
        if param in into:
            raise CogsimError(f"fit --prior: {target!r} is given twice; allowed: one prior per parameter")
        into[param] = density
    out = {}
    for name, model in chosen.items():
        got = {}  # the model's own priors over the general ones, an exact name over a parameter's copies
        for given in (general, specific.get(name, {})):
            for exact in (False, True):
                for param, density in given.items():
                    got |= {p.name: density for p in _matches(model, param) if (p.name == param) == exact}
        for p in (p for p in model.params if p.name in got):
            got[p.name].check_covers(f"{name}.{p.name}", p.low, p.high, where="fit --prior")
            out.setdefault(name, {})[p.name] = got[p.name]
    return out


def check(priors: dict, *, hierarchical: bool, lr_test: int | None) -> None:
    """Refuses (one line) priors with ``--hierarchical`` (the group distribution is the prior there) and with
    ``--lr-test`` (its statistic compares maximum-likelihood fits)."""
    if priors and (hierarchical or lr_test is not None):
        other = "--hierarchical" if hierarchical else "--lr-test"
        raise CogsimError(
            f"fit --prior: given with {other}; allowed: --prior without {other} ("
            + (
                "the group distribution is the participants' prior there)"
                if hierarchical
                else "the likelihood-ratio test compares maximum-likelihood fits)"
            )
        )


def entry(priors: dict) -> dict:
    """The priors as text, model -> {parameter -> density} (``comparison.json``, ``run.json``)."""
    return {m: {p: str(d) for p, d in given.items()} for m, given in priors.items()}


def line(priors: dict) -> str:
    """What the command prints about the priors, e.g. ``priors (MAP estimates): mixture2p: p_mem ~ beta(2,
    2), sd_rad ~ lognormal(-1, 1)``."""
    models = "; ".join(f"{m}: " + ", ".join(f"{p} ~ {d}" for p, d in g.items()) for m, g in priors.items())
    return f"priors (MAP estimates): {models}"
