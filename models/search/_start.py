"""Data-informed start points of the search models: each unit's own RTs and error rates in the models' terms.

The models' defaults predict RTs near 0.4-0.5 s; a unit whose RTs run to several seconds is far from them,
and from there the optimiser can drift onto the plateaus at the parameters' bounds (``t0_s`` or an error
rate at 0, where the fixed contaminant alone explains the trials the model misses and the gradient in
unconstrained coordinates vanishes). These starts put the shift below the unit's fastest RTs and the gamma
scale and shapes at the moments of its RTs, so each unit has one start inside its own basin.
"""

from __future__ import annotations

import numpy as np

#: the start's ``t0_s`` as a fraction of the unit's ``T0_QUANTILE`` RT quantile
T0_FRACTION = 0.9
T0_QUANTILE = 0.01
#: error-rate starts are kept in this range
RATE_RANGE = (0.001, 0.5)
#: gamma shapes and scales of a start are kept in these ranges
SHAPE_RANGE = (0.05, 200.0)
SCALE_RANGE = (0.002, 2.0)


def _rate(errors, n) -> float:
    return float(np.clip((errors + 0.5) / (n + 1.0), *RATE_RANGE))


def error_rates(trials) -> tuple[float, float]:
    """``(miss, false alarm)`` proportions of a unit's trials (plus 0.5 over plus 1, in ``RATE_RANGE``).

    Example:
      >>> import numpy as np
      >>> t = {"target_present": np.array([1, 1, 1, 0]), "correct": np.array([1, 0, 1, 1])}
      >>> [round(v, 3) for v in error_rates(t)]
      [0.375, 0.25]
    """
    tp = np.asarray(trials["target_present"]) == 1
    wrong = np.asarray(trials["correct"]) == 0
    return _rate(np.sum(wrong & tp), np.sum(tp)), _rate(np.sum(wrong & ~tp), np.sum(~tp))


def shift(trials) -> float:
    """``T0_FRACTION`` x the unit's ``T0_QUANTILE`` RT quantile, seconds (inside ``t0_s``'s bounds, 0-2 s).

    Example:
      >>> import numpy as np
      >>> round(shift({"rt_ms": np.linspace(500.0, 1500.0, 101)}), 3)
      0.459
    """
    rt = np.asarray(trials["rt_ms"], float) / 1000.0
    return float(np.clip(T0_FRACTION * np.quantile(rt, T0_QUANTILE), 0.01, 1.9))


def _moments(x) -> tuple[float, float]:
    """``(scale, shape)`` of a gamma with the mean and variance of ``x`` (positive; ranges kept)."""
    x = np.asarray(x, float)
    m = max(float(np.mean(x)), 1e-3) if x.size else 0.2
    v = max(float(np.var(x)), 1e-6) if x.size > 1 else m * 0.05
    scale = float(np.clip(v / m, *SCALE_RANGE))
    return scale, float(np.clip(m / scale, *SHAPE_RANGE))


def parallel_start(trials) -> dict[str, float]:
    """Start of :class:`._baselines.Parallel`: error rates, shift, a common scale and one shape per response
    from the means and variances of ``rt - t0_s`` of the "present" and "absent" answers.

    Example:
      >>> import numpy as np
      >>> rng = np.random.default_rng(0)
      >>> t = {"target_present": np.repeat([1, 0], 500), "correct": np.ones(1000, int),
      ...      "rt_ms": 1000 * (0.3 + rng.gamma(8.0, 0.05, 1000))}
      >>> p = parallel_start(t)
      >>> 0.25 < p["t0_s"] < 0.45, 0.02 < p["scale_s"] < 0.1
      (True, True)
    """
    t0 = shift(trials)
    x = np.asarray(trials["rt_ms"], float) / 1000.0 - t0
    tp = np.asarray(trials["target_present"]) == 1
    yes = tp == (np.asarray(trials["correct"]) == 1)
    (s_yes, k_yes), (s_no, k_no) = _moments(x[yes]), _moments(x[~yes])
    scale = float(np.sqrt(s_yes * s_no))
    m_yes, m_no = s_yes * k_yes, s_no * k_no
    p_miss, p_fa = error_rates(trials)
    return {
        "p_miss": p_miss,
        "p_fa": p_fa,
        "t0_s": t0,
        "scale_s": scale,
        "k_yes": float(np.clip(m_yes / scale, *SHAPE_RANGE)),
        "k_no": float(np.clip(m_no / scale, *SHAPE_RANGE)),
    }


def serial_timing(trials) -> dict[str, float]:
    """``t0_s``, ``scale_s``, ``k_item``, ``k_res`` from the correct "absent" answers: the intercept and slope
    of their mean ``rt - t0_s`` over set size (slope at least 1 ms per item) and the scale from their
    variance at the smallest set size (all trials where there are no correct "absent" answers).

    Example:
      >>> import numpy as np
      >>> rng = np.random.default_rng(0)
      >>> n = np.repeat([3, 6, 12, 18], 200)
      >>> t = {"set_size": n, "target_present": np.zeros(800, int), "correct": np.ones(800, int),
      ...      "rt_ms": 1000 * (0.3 + rng.gamma(6.0 + 2.0 * n, 0.04))}
      >>> p = serial_timing(t)
      >>> 1.0 < p["k_item"] < 4.0, 0.02 < p["scale_s"] < 0.08
      (True, True)
    """
    t0 = shift(trials)
    x = np.asarray(trials["rt_ms"], float) / 1000.0 - t0
    n = np.asarray(trials["set_size"], float)
    sel = (np.asarray(trials["target_present"]) == 0) & (np.asarray(trials["correct"]) == 1)
    if not sel.any():
        sel = np.ones_like(sel)
    x, n = x[sel], n[sel]
    sizes = np.unique(n)
    means = np.array([np.mean(x[n == s]) for s in sizes])
    slope = float(np.polyfit(sizes, means, 1)[0]) if sizes.size > 1 else 0.0
    slope = max(slope, 0.001)
    intercept = max(float(np.mean(means - slope * sizes)), 0.01)
    small = x[n == sizes[0]]
    scale, _ = _moments(small)
    return {
        "t0_s": t0,
        "scale_s": scale,
        "k_item": float(np.clip(slope / scale, *SHAPE_RANGE)),
        "k_res": float(np.clip(intercept / scale, *SHAPE_RANGE)),
    }


def serial_start(trials) -> dict[str, float]:
    """Start of :class:`._baselines.SerialSelfTerminating`: error rates and :func:`serial_timing`.

    Example:
      >>> import numpy as np
      >>> t = {"set_size": np.array([3, 3, 18, 18]), "target_present": np.array([0, 1, 0, 1]),
      ...      "correct": np.array([1, 1, 1, 0]), "rt_ms": np.array([600.0, 550.0, 1400.0, 900.0])}
      >>> sorted(serial_start(t))
      ['k_item', 'k_res', 'p_fa', 'p_miss', 'scale_s', 't0_s']
    """
    p_miss, p_fa = error_rates(trials)
    return {"p_miss": p_miss, "p_fa": p_fa, **serial_timing(trials)}


def cgs_start(trials) -> dict[str, float]:
    """Start of CGS: ``p_guess`` the false-alarm proportion, :func:`serial_timing`; the search weights keep
    their defaults.

    Example:
      >>> import numpy as np
      >>> t = {"set_size": np.array([3, 3, 18, 18]), "target_present": np.array([0, 1, 0, 1]),
      ...      "correct": np.array([1, 1, 1, 0]), "rt_ms": np.array([600.0, 550.0, 1400.0, 900.0])}
      >>> sorted(cgs_start(t))
      ['k_item', 'k_res', 'p_guess', 'scale_s', 't0_s']
    """
    return {"p_guess": error_rates(trials)[1], **serial_timing(trials)}
