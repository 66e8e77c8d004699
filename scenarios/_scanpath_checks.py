"""Checks of the scanpath scenarios as contrasts over displays, each with a bootstrap CI.

The displays (collages) are the units both scanpath scenarios generalise over, so every contrast pairs two
methods on the same displays: Sequence Scores by :func:`cogsim.compare.paired_bootstrap_diff`, behaviour
deltas by :func:`cogsim._scanpath_bootstrap.behaviour_delta_ci`, and a method's Sequence Score as a fraction
of the reference's self-consistency (the noise ceiling) by :func:`cogsim._scanpath_bootstrap.ratio_ci`.
``res`` is the output of :func:`cogsim.scenarios._scanpath_methods.method_scores`.
"""

from __future__ import annotations

import numpy as np

from cogsim import _scanpath_bootstrap as sb
from cogsim import compare as cmp
from cogsim.comparison import Check


def paired_ss(res: dict[str, dict], a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """The per-display Sequence Scores of methods ``a`` and ``b`` on the displays both were scored on.

    Example:
      >>> res = {"m": {"displays": [1, 2], "per_display_ss": np.array([0.2, 0.3])},
      ...        "r": {"displays": [2, 3], "per_display_ss": np.array([0.1, 0.4])}}
      >>> paired_ss(res, "m", "r")
      (array([0.3]), array([0.1]))
    """
    da = dict(zip(res[a]["displays"], res[a]["per_display_ss"], strict=True))
    db = dict(zip(res[b]["displays"], res[b]["per_display_ss"], strict=True))
    keys = [k for k in da if k in db]
    return np.array([da[k] for k in keys]), np.array([db[k] for k in keys])


def ss_contrast(
    res: dict[str, dict], a: str, b: str, *, name: str, basis: str, kind: str = "effect", source="declared"
) -> Check:
    """Check that method ``a``'s Sequence Score is above method ``b``'s: the paired difference over displays
    (bootstrap CI) lies above 0."""
    x, y = paired_ss(res, a, b)
    d, lo, hi = cmp.paired_bootstrap_diff(x, y, n_boot=2000, seed=0)
    return Check.of(
        name,
        value=d,
        ci=(lo, hi),
        threshold=0.0,
        rule="ci_above",
        source=source,
        basis=basis,
        kind=kind,
        detail=f"SS {a} {x.mean():.3f} vs {b} {y.mean():.3f} on {len(x)} displays; "
        f"difference {d:.3f} [{lo:.3f}, {hi:.3f}]",
    )


def delta_contrast(
    groups: dict[str, dict], reference: str, targets: dict, a: str, b: str, *, name: str, basis: str
) -> Check:
    """Check that method ``a``'s behaviour delta is below method ``b``'s (both against ``reference``): the
    difference, bootstrapped over displays, lies below 0. ``groups``: method -> display -> scanpaths."""
    d, lo, hi = sb.behaviour_delta_ci(
        groups[a], groups[reference], targets, baseline=groups[b], n_boot=1000, seed=0
    )
    return Check.of(
        name,
        value=d,
        ci=(lo, hi),
        threshold=0.0,
        rule="ci_below",
        source="declared",
        basis=basis,
        detail=f"delta({a}) - delta({b}) = {d:.3f} [{lo:.3f}, {hi:.3f}]",
    )


def ceiling_fraction(res: dict[str, dict], method: str, reference: str) -> tuple[float, float, float]:
    """``mean SS(method) / mean SS(reference vs itself)`` over the displays both hold, with a bootstrap CI."""
    x, y = paired_ss(res, method, reference)
    return sb.ratio_ci(x, y, n_boot=2000, seed=0)
