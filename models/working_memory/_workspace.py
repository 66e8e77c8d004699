"""The consciousness-prior workspace as a process model of delayed estimation.

The ``N`` items of a display compete for the ``K`` slots of a workspace: each item's salience is a standard
Gumbel draw ``g_i`` (all items are alike, so selection is pure noise) and the top ``M = min(K, N)`` enter
(the top-k selection of :class:`cogsim.models.bottleneck.Workspace`). The workspace's total precision
``J_total`` (its broadcast gain, given as ``sd1_rad``, the SD of an item alone in the workspace) is shared
among the selected items in proportion to ``softmax(s g_i)`` over them: ``s = 0`` shares it equally (a capped
resource), larger ``s`` lets the most salient items take most of it (precision varies over items, as in the
variable-precision model). A probed item outside the workspace is guessed. A non-integer ``K`` mixes
``floor(K)`` and ``floor(K) + 1`` slots like :mod:`._slots`, so the likelihood is piecewise in ``K`` like
slots': within ``[c, c + 1]`` each trial's likelihood is linear in ``K`` and the derivative jumps at every
integer. The gradient at an integer ``K`` is the right-hand derivative, and the model declares one start
point per segment (``K = c + 0.5``, ``c = 0 .. K_MAX - 1``, the other parameters at their defaults), fitted
besides the default and random starts (8 more starts per participant).

Likelihood: the probed item is in the workspace with probability ``M / N`` (items are exchangeable);
given that, its precision is ``J_total w`` with ``w`` the share of a uniformly chosen selected item. The
distribution of ``w`` has no closed form, so it is replaced by ``N_DRAWS`` fixed Gumbel draws per set size
(common random numbers, the same at every parameter value, so the likelihood is continuous in ``s`` and
``J_total``); the
``N_DRAWS x M`` shares are summarised by ``N_NODES`` quantile mid points ``w_q``::

    p(e) = sum_c P(c) [ (M_c / N) (1 / N_NODES) sum_q VM(e; kappa(J_total w_q)) + (1 - M_c / N) / (2 pi) ]

At ``s = 0`` (equal shares) it is exact. Set sizes up to ``N_MAX = 16`` (``max_set_size``: ``fit``
refuses larger ones). The quantiles depend on the
parameters only through ``s`` (and ``M``), so they are not sorted at every evaluation
(:func:`loglik_table` does that, as the reference): :func:`share_quantile_table` sorts them once per process
on a grid of ``s`` (0 to 10 by ``S_STEP = 0.1``, float64) and the likelihood interpolates their logs in
``s`` by cubic Hermite polynomials (slopes by finite differences over the grid), which is smooth in ``s``
(the sorted quantiles themselves have kinks in ``s`` wherever two shares cross). :data:`WORKSPACE_SORTED`
keeps the per-evaluation sorting as the reference.

Acceptance rule of the interpolation, from tolerances this package already used, not chosen for it:
(a) against sorting at every evaluation the density differs by at most 1e-3 of its peak (the bound the vp
quadrature declares); (b) fitted with the interpolated and with the sorted likelihood from the same starts,
every participant's maximum log-likelihood agrees within 0.1 (the fitting layer's tolerance for "the same
maximum"). The density error was measured first (2.5e-4 of the peak at worst) and the bound declared
afterwards from these rules; (b) was declared before it was run, then measured on van den Berg et al.'s
32 participants (4 starts): at most 0.034 (docs/models/working_memory.md). Measured error
(tests/models/test_working_memory.py): against a 8,192-draw, 1,024-node reference, the density differs by
less than 2 % of its peak, and it matches a histogram of 200,000 simulated errors.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from cogsim.models.working_memory import _circular as circ
from cogsim.models.working_memory._model import DE_PATTERNS, Spec, WMModel, delayed_estimation_design

K_MAX = 8
N_MAX = 16
N_DRAWS = 512
N_NODES = 64
TINY = 1e-30

K = Spec("K", 0.0, float(K_MAX), 3.0, "workspace capacity in items (non-integer: mixture of floor and ceil)")
SD1 = Spec("sd1_rad", 0.02, 4.0, 0.3, "circular SD of an item alone in the workspace (total precision)")
S = Spec("s", 0.0, 10.0, 0.5, "selection noise gain: shares of precision ~ softmax(s x Gumbel)")


def gumbel_table(n_draws: int = N_DRAWS, seed: int = 0) -> np.ndarray:
    """``[N_MAX, n_draws, K_MAX]``: per set size ``N``, the top ``K_MAX`` of ``N`` Gumbel draws, descending
    (``-inf`` beyond ``N``); the same base draws for every ``N``."""
    g = np.random.default_rng(seed).gumbel(size=(n_draws, N_MAX))
    out = np.full((N_MAX, n_draws, K_MAX), -np.inf, np.float32)
    for n in range(1, N_MAX + 1):
        top = -np.sort(-g[:, :n], axis=1)[:, :K_MAX]
        out[n - 1, :, : top.shape[1]] = top
    return out


_TABLE = jnp.asarray(gumbel_table())


def _split(k):
    c0 = jnp.minimum(jnp.floor(k), K_MAX - 1)
    return c0, k - c0


def _np_argsort(x):
    return np.argsort(np.asarray(x), axis=-1).astype(np.int32)


def _argsort_rows(x):
    """``argsort`` along the last axis, computed by NumPy on the host (several times faster than XLA's CPU
    sort, the workspace likelihood's main cost); no gradient (integer indices)."""
    out = jax.ShapeDtypeStruct(x.shape, jnp.int32)
    return jax.pure_callback(_np_argsort, out, x, vmap_method="expand_dims")


def _share_quantiles(s, c, table, n_nodes):
    """Per set size, ``n_nodes`` quantile mid points ``[N_MAX, n_nodes]`` of the probed item's share of the
    workspace's precision when it is held (a uniformly chosen selected item), and ``M = min(c, N)``."""
    n_draws = table.shape[1]
    ns = jnp.arange(1, N_MAX + 1, dtype=jnp.float32)
    m = jnp.minimum(c, ns)  # [N_MAX]
    sel = jnp.arange(K_MAX)[None, None, :] < m[:, None, None]
    z = jnp.where(sel, s * jnp.where(jnp.isfinite(table), table, 0.0), -1e30)  # finite: no NaN when M = 0
    w = jnp.where(sel, jax.nn.softmax(z, axis=-1), 2.0)  # unselected entries sort last
    flat = w.reshape(N_MAX, -1)
    # the sorted order (the first n_draws * M entries are the selected shares), found without a gradient;
    # the quantiles are then gathered from the shares themselves: the same values as sorting them, but the
    # gradient flows through n_nodes gathered entries instead of through the whole sort
    order = _argsort_rows(jax.lax.stop_gradient(flat))
    pos = (jnp.arange(n_nodes) + 0.5) / n_nodes  # quantile mid points
    idx = jnp.floor(pos[None, :] * (n_draws * m[:, None])).astype(jnp.int32)
    rank = jnp.take_along_axis(order, jnp.clip(idx, 0, flat.shape[1] - 1), axis=1)
    q = jnp.take_along_axis(flat, rank, axis=1)
    return jnp.where(m[:, None] > 0, q, 0.0), m, ns


def loglik_table(params, trials, table, n_nodes: int = N_NODES):
    """Per-trial log-likelihood with the Gumbel draws of ``table``, its share quantiles sorted at every
    evaluation (the reference :func:`loglik_interpolated` approximates; with :func:`gumbel_table`'s draws
    the model's likelihood up to that interpolation)."""
    table = jnp.asarray(table)

    def shares(s, cs):  # one capacity at a time (the host argsort), stacked
        (q0, m0, ns), (q1, m1, _) = (_share_quantiles(s, c, table, n_nodes) for c in (cs[0], cs[1]))
        return jnp.stack([q0, q1]), jnp.stack([m0, m1]), ns

    return _mixture_loglik(params, trials, shares, n_nodes)


def _mixture_loglik(params, trials, shares_fn, n_nodes):
    """The likelihood of :func:`_mixture_tables`."""
    return circ.mixture_by_set_size(
        *_mixture_tables(params, shares_fn, n_nodes), trials["set_size"], trials["error_rad"]
    )


def _mixture_tables(params, shares_fn, n_nodes):
    """The per-set-size mixture ``(logw, kappa)``, each ``[n, 2 (n_nodes + 1)]``, given
    ``shares_fn(s, c) -> (shares [2, n, n_nodes], M [2, n], N [n])`` for the two capacities
    ``c = [floor(K), floor(K) + 1]`` at once (one batched pass over both segments), for set sizes ``1..n``
    (``n = N_MAX``, or fewer)."""
    j_total = circ.j_from_kappa(circ.kappa_from_sd(params["sd1_rad"]))
    c0, frac = _split(params["K"])
    # log(frac + TINY), not log(frac): at an integer K (frac = 0, e.g. the default K = 3) log(frac) is -inf
    # and its gradient 0 x inf = NaN; frac + TINY == frac in float32 for any frac > 1e-22, and at frac = 0
    # the gradient is the right-hand derivative (as in slots_averaging)
    lw = jnp.stack([jnp.log1p(-frac), jnp.log(frac + TINY)])[:, None]  # [2, 1]
    share, m, ns = shares_fn(params["s"], jnp.stack([c0, c0 + 1]))
    # [2, N_MAX, nodes]; log i0e(kappa) read from the J table's interval (i0e and its gradient evaluated
    # took about a seventh of an evaluation's CPU time)
    kappa, log_i0e = circ.kappa_and_log_i0e_from_j(j_total * share)
    held = jnp.log(jnp.maximum(m / ns, 1e-30)) - jnp.log(n_nodes)
    logw = (lw + held)[..., None] - circ.LOG_2PI - log_i0e
    guess = lw + jnp.log(jnp.maximum(1 - m / ns, 1e-30)) - circ.LOG_2PI
    # columns per set size: the first segment's nodes and guess, then the second's (sum order as before)
    n_rows = share.shape[1]
    kappa = jnp.concatenate([kappa, jnp.zeros((2, n_rows, 1))], axis=2)
    logw = jnp.concatenate([jnp.where(m[..., None] > 0, logw, -1e30), guess[..., None]], axis=2)
    kappa = jnp.moveaxis(kappa, 0, 1).reshape(n_rows, -1)
    logw = jnp.maximum(jnp.moveaxis(logw, 0, 1).reshape(n_rows, -1), -1e30)
    return logw, kappa


S_STEP = 0.1  # spacing of the grid of selection gains s on which the share quantiles are tabulated


@functools.cache
def share_quantile_table(
    n_draws: int = N_DRAWS, n_nodes: int = N_NODES, s_step: float = S_STEP, n_rows: int = N_MAX
):
    """The share quantiles of :func:`loglik_table` tabulated on a grid of ``s``, for interpolation.

    Returns:
      ``(log_q, slope)``, each ``[n_s, n_rows, K_MAX, n_nodes]`` float32 on ``s = 0, s_step, ..., S.high``
      for the set sizes ``1..n_rows`` (each set size's entries are computed from its own draws alone, so the
      table for ``n_rows`` is the full table's first ``n_rows`` rows, bit for bit, at a fraction of the cost).
      Entry ``[i, N - 1, M - 1]`` of ``log_q`` holds the ``log`` of the ``n_nodes`` quantile mid points of
      the ``n_draws M`` shares ``softmax(s g)`` over the top ``M`` of ``N`` Gumbel draws of
      :func:`gumbel_table` (the values :func:`loglik_table` sorts at every evaluation, here in float64);
      ``slope`` holds their derivative in ``s`` by second-order finite differences over the grid (not the
      slope of the share that sits at the quantile's rank, which jumps each time two shares cross). Zero
      where ``M > N``. Computed once per process.
    """
    g = gumbel_table(n_draws).astype(np.float64)  # [N_MAX, n_draws, K_MAX], -inf beyond N
    s_grid = np.arange(int(round(S.high / s_step)) + 1) * s_step
    log_q = np.zeros((s_grid.size, n_rows, K_MAX, n_nodes))
    pos = (np.arange(n_nodes) + 0.5) / n_nodes
    for m in range(1, min(K_MAX, n_rows) + 1):
        idx = np.floor(pos * n_draws * m).astype(np.int64)
        gs = g[m - 1 : n_rows, :, :m]  # [n_rows - m + 1, n_draws, m]: set sizes n_rows >= N >= m, top m draws
        z = s_grid[:, None, None, None] * (gs - gs[:, :, :1])[None]  # <= 0: the top draw comes first
        log_w = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
        log_q[:, m - 1 :, m - 1] = np.sort(log_w.reshape(*log_w.shape[:2], -1), axis=-1)[..., idx]
    slope = np.gradient(log_q, s_step, axis=0, edge_order=2)
    return log_q.astype(np.float32), slope.astype(np.float32)


def _interp_shares(s, c, log_q, slope, s_step):
    """Cubic Hermite interpolation in ``s`` of the tabulated log share quantiles: ``[..., n, n_nodes]``
    shares for ``M = min(c, N)`` held items (0 where ``M = 0``) and ``M`` ``[..., n]``, for capacities
    ``c`` of any shape ``[...]`` and the tables' set sizes ``N = 1..n`` (``log_q``, ``slope``:
    ``[n_s, n, K_MAX, n_nodes]``)."""
    n_rows = log_q.shape[1]
    ns = jnp.arange(1, n_rows + 1, dtype=jnp.float32)
    m = jnp.minimum(jnp.asarray(c)[..., None], ns)
    x = s / s_step
    i = jnp.clip(jnp.floor(jax.lax.stop_gradient(x)), 0, log_q.shape[0] - 2).astype(jnp.int32)
    t = x - i
    mi = jnp.clip(m.astype(jnp.int32) - 1, 0, K_MAX - 1)
    rows_n = jnp.arange(n_rows)

    def at(table, j):
        rows = jax.lax.dynamic_index_in_dim(table, j, axis=0, keepdims=False)  # [n, K_MAX, nodes]
        return rows[rows_n, mi]  # [..., N_MAX, nodes]: row M - 1 of each set size

    h00, h10 = (1 + 2 * t) * (1 - t) ** 2, t * (1 - t) ** 2
    h01, h11 = t**2 * (3 - 2 * t), t**2 * (t - 1)
    log_share = (
        h00 * at(log_q, i)
        + h10 * s_step * at(slope, i)
        + h01 * at(log_q, i + 1)
        + h11 * s_step * at(slope, i + 1)
    )
    return jnp.where(m[..., None] > 0, jnp.exp(log_share), 0.0), m, ns


def _interp_fn(tables, s_step, n_rows):
    log_q, slope = share_quantile_table(s_step=s_step, n_rows=n_rows) if tables is None else tables
    log_q, slope = jnp.asarray(log_q[:, :n_rows]), jnp.asarray(slope[:, :n_rows])
    return (lambda s, c: _interp_shares(s, c, log_q, slope, s_step)), log_q.shape[-1]


def loglik_interpolated(params, trials, tables=None, s_step: float = S_STEP):
    """Per-trial log-likelihood of :func:`loglik_table` with :func:`gumbel_table`'s draws, its share
    quantiles interpolated in ``s`` from :func:`share_quantile_table` instead of sorted at every
    evaluation (what the model uses)."""
    shares_fn, n_nodes = _interp_fn(tables, s_step, N_MAX)
    return _mixture_loglik(params, trials, shares_fn, n_nodes)


def _loglik(params, trials):
    return loglik_interpolated(params, trials)


def _tables(params, *, n_rows):
    """The model's mixture per set size ``1..n_rows``: ``(logw, kappa)``."""
    return _mixture_tables(params, *_interp_fn(None, S_STEP, n_rows))


def _simulate(params, trials, key):
    """The process itself: fresh Gumbel saliences, top-M selection, precision shares, von Mises report."""
    n = jnp.asarray(trials["set_size"], jnp.int32)
    b = n.shape[0]
    k1, k2, k3, k4 = jax.random.split(key, 4)
    j_total = circ.j_from_kappa(circ.kappa_from_sd(params["sd1_rad"]))
    c0, frac = _split(params["K"])
    c = c0 + jax.random.bernoulli(k1, frac, (b,))
    m = jnp.minimum(c, n)
    present = jnp.arange(N_MAX)[None, :] < n[:, None]
    g = jnp.where(present, jax.random.gumbel(k2, (b, N_MAX)), -jnp.inf)
    rank = jnp.sum(g > g[:, :1], axis=1)  # item 0 is the probed one
    order = jnp.argsort(-g, axis=1).argsort(axis=1)
    sel = order < m[:, None]
    share = jax.nn.softmax(jnp.where(sel, params["s"] * jnp.where(present, g, 0.0), -1e30), axis=1)
    held = rank < m
    kappa = jnp.maximum(circ.kappa_from_j(j_total * jnp.where(held, share[:, 0], 0.0)), 1e-6)
    mem = circ.vm_sample(k3, kappa, (b,))
    guess = jax.random.uniform(k4, (b,), minval=-jnp.pi, maxval=jnp.pi)
    return {"error_rad": jnp.where(held, mem, guess)}


WORKSPACE = WMModel(
    "workspace",
    (K, SD1, S),
    False,
    (),
    _loglik,
    _simulate,
    delayed_estimation_design,
    "consciousness-prior workspace: noisy top-k of min(K, N) items, precision shared by softmax(s g)",
    pattern_columns=DE_PATTERNS,
    max_set_size=N_MAX,
    starts=tuple(((K.name, c + 0.5),) for c in range(K_MAX)),
    sign_invariant=("error_rad",),  # read through cos(error)
    tables_fn=_tables,
)


def _loglik_sorted(params, trials):
    return loglik_table(params, trials, _TABLE)


#: the same model with its share quantiles sorted at every evaluation (:func:`loglik_table`): the reference
#: the interpolation's acceptance rule compares fits against (slower; not in the model registry)
WORKSPACE_SORTED = dataclasses.replace(
    WORKSPACE, name="workspace_sorted", loglik_fn=_loglik_sorted, tables_fn=None
)
