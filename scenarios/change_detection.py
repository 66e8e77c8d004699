"""Change detection (Rouder et al. 2008): how many items does visual working memory hold?

Participants saw 2, 5 or 8 coloured squares, then one probe square, and said whether its colour had changed,
in blocks where a change happened on 30, 50 or 70 % of trials. A model is fitted by maximum likelihood to the
12,345 real trials and its predicted hit and false-alarm rates are compared, cell by cell, with the observed
ones. Models plug in through :data:`MODELS`: a function ``(config, counts, *, key) -> ModelFit``.

Run: ``cogsim run change_detection`` (the quick preset uses 200 bootstrap resamples; "paper" uses 2000).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
from flax import nnx

from cogsim import compare as cmp
from cogsim import config as cfglib
from cogsim import data, train
from cogsim.attention import dot_product_attention
from cogsim.models import bottleneck as bn
from cogsim.models import capacity
from cogsim.reference import Reference

DESCRIPTION = "Rouder et al. (2008) change detection: capacity K, lapses and guessing fitted to 12,345 trials"


# ------------------------------------------------------------------------------- workspace model settings
N_COLOURS = 10  # Rouder et al. (2008) drew the squares' colours from ten


@dataclasses.dataclass(frozen=True)
class WorkspaceFit:
    """The workspace model: a network with a top-k conscious state trained on displays of coloured squares,
    whose capacity (``top_k``) and selection noise are then fitted to the trials over a grid."""

    n_locations: int = cfglib.field(12, low=8, high=64, doc="display locations (= slots of the network)")
    slot_dim: int = cfglib.field(32, low=4, high=512, doc="slot width")
    score_scale: float = cfglib.field(4.0, low=0.1, high=100.0, doc="selection scores = cosine x this")
    train_steps: int = cfglib.field(600, low=1, high=1_000_000, doc="Adam steps of the task training")
    batch: int = cfglib.field(128, low=8, high=65_536, doc="displays per training step")
    lr: float = cfglib.field(3e-3, low=1e-6, high=1.0, doc="Adam learning rate")
    train_noise_max: float = cfglib.field(6.0, low=0.0, high=100.0, doc="training noise ~ U(0, this)")
    top_k_grid: tuple[int, ...] = cfglib.field(
        (1, 2, 3, 4, 5, 6, 7, 8), low=1, high=64, doc="capacities tried in the fit"
    )
    noise_grid: tuple[float, ...] = cfglib.field(
        (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0),
        low=0.0,
        high=100.0,
        doc="selection noise levels tried in the fit",
    )
    trials: int = cfglib.field(
        400, low=10, high=100_000, doc="simulated trials per set size x change x grid point"
    )


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the change-detection scenario."""

    models: tuple[str, ...] = cfglib.field(("fixed_capacity",), doc="models to fit, side by side")
    n_boot: int = cfglib.field(1000, low=10, high=100_000, doc="bootstrap resamples of participants")
    fit_steps: int = cfglib.field(1500, low=50, high=100_000, doc="Adam steps per maximum-likelihood fit")
    per_participant: bool = cfglib.field(True, doc="also fit each participant separately")
    level: float = cfglib.field(0.95, low=0.5, high=0.999, doc="confidence level of the CIs")
    # A simulated fixed-capacity observer, for sweeps (see sweep_point).
    sim_K: float = cfglib.field(3.0, low=0.0, high=8.0, doc="sweeps: simulated observer's capacity K")
    sim_a: float = cfglib.field(0.9, low=0.0, high=1.0, doc="sweeps: simulated observer's attention rate a")
    sim_guess: float = cfglib.field(0.5, low=0.0, high=1.0, doc="sweeps: simulated observer's guess rate g")
    sim_trials: int = cfglib.field(60, low=1, high=100_000, doc="sweeps: simulated trials per cell")
    workspace: WorkspaceFit = cfglib.field(default_factory=WorkspaceFit, doc="the workspace model's settings")

    def __post_validate__(self):
        for m in self.models:
            if m not in MODELS:
                raise cfglib.ConfigError("models", self.models, f"names from {sorted(MODELS)}")


PRESETS = {
    "quick": Config(n_boot=200, fit_steps=800, models=("fixed_capacity", "workspace")),
    "paper": Config(
        n_boot=2000,
        fit_steps=3000,
        models=("fixed_capacity", "workspace"),
        workspace=WorkspaceFit(train_steps=3000, trials=2000),
    ),
}


@dataclasses.dataclass(frozen=True)
class ModelFit:
    """What a plugged-in model returns.

    Attributes:
      conditions: one row per set size x change probability: ``hit_pred``, ``fa_pred``.
      params: one row per parameter (and participant; -1 = group): ``name, value, ci_low, ci_high``.
      loglik: group log-likelihood of the trial data.
      n_params: number of fitted parameters (group level).
    """

    conditions: pd.DataFrame
    params: pd.DataFrame
    loglik: float
    n_params: int


def _cells(counts: capacity.Counts) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "set_size": counts.set_size,
            "p_change": [counts.p_change[b] for b in counts.block],
            "is_change": counts.is_change,
        }
    )


def _by_condition(cells: pd.DataFrame, p: np.ndarray) -> pd.DataFrame:
    """Turns per-cell P("change") into one row per condition with hit and false-alarm rates."""
    d = cells.assign(p=p)
    wide = d.pivot_table(index=["set_size", "p_change"], columns="is_change", values="p").reset_index()
    return wide.rename(columns={1: "hit_pred", 0: "fa_pred"})[["set_size", "p_change", "hit_pred", "fa_pred"]]


def fit_fixed_capacity(config: Config, counts: capacity.Counts, *, key: jax.Array) -> ModelFit:
    """Fixed capacity with lapses and one guess rate per block; group fit, bootstrap CIs, participant fits."""
    group_n = counts.n.sum(0)
    group_k = counts.k.sum(0)
    group = capacity.fit(counts, group_n, group_k, steps=config.fit_steps)
    boot = capacity.bootstrap(counts, key=key, n_boot=config.n_boot, steps=config.fit_steps)
    alpha = (1 - config.level) / 2
    rows = []

    def add(name, value, draws, participant=-1):
        lo, hi = (np.nan, np.nan) if draws is None else np.quantile(np.asarray(draws), [alpha, 1 - alpha])
        rows.append(
            {
                "participant": participant,
                "name": name,
                "value": float(value),
                "ci_low": float(lo),
                "ci_high": float(hi),
            }
        )

    add("K", group["K"], boot["K"])
    add("a", group["a"], boot["a"])
    for b, pc in enumerate(counts.p_change):
        add(f"g_{pc:g}", group["g"][b], boot["g"][:, b])
    if config.per_participant:
        per = capacity.fit(counts, steps=config.fit_steps)
        for s in range(counts.n.shape[0]):
            add("K", per["K"][s], None, participant=s)
    p = capacity.predict(
        {k: group[k] for k in capacity.PARAMS}, counts.set_size, counts.block, counts.is_change
    )
    return ModelFit(
        _by_condition(_cells(counts), np.asarray(p)),
        pd.DataFrame(rows),
        float(group["loglik"]),
        2 + len(counts.p_change),
    )


MODELS: dict[str, Callable[..., ModelFit]] = {"fixed_capacity": fit_fixed_capacity}


# ---------------------------------------------------------------------------------------- workspace model
class ChangeDetector(nnx.Module):
    """The workspace network doing the change-detection task.

    Study: every display location is a slot (colour one-hot and an "occupied" flag in, location identity from
    the slot embedding); a noisy top-k selection (one step of :class:`cogsim.models.bottleneck.Workspace`)
    chooses which slots enter the conscious state. The mask then wipes the display: only the selected slots'
    contents survive (the others are zeroed). Test: the probe's location addresses the locations (keys are
    location identities only, so nothing of an unselected square leaks) and the colour read out is compared
    with the probe's colour: ``logit(change) = a - b logit p(probe colour | read-out)``. The selection learns
    through the straight-through gate of the workspace (which slots it should have kept).

    Example:
      >>> from flax import nnx
      >>> net = ChangeDetector(WorkspaceFit(slot_dim=8), rngs=nnx.Rngs(0))
      >>> d = _displays(jax.random.key(0), 4, WorkspaceFit())
      >>> logit, held, _ = net(d["display"], d["probe_loc"], d["probe_col"], gumbel=d["gumbel"],
      ...                      noise=jnp.zeros(4), keep=jnp.full(4, 3))
      >>> logit.shape, held.shape
      ((4,), (4,))
    """

    def __init__(self, wcfg: WorkspaceFit, *, rngs: nnx.Rngs):
        d, n = wcfg.slot_dim, wcfg.n_locations
        top_k = min(max(wcfg.top_k_grid), n)
        bcfg = bn.BottleneckConfig(
            variant="bottleneck",
            n_slots=n,
            slot_dim=d,
            top_k=top_k,
            noise=0.0,
            score_scale=wcfg.score_scale,
            verifier_weight=0.0,
        )
        self.ws = bn.Workspace(bcfg, in_features=N_COLOURS + 1, rngs=rngs)
        self.probe = nnx.Param(0.5 * jax.random.normal(rngs.params(), (n, d)))
        self.read_q = nnx.Linear(d, d, rngs=rngs)
        self.read_k = nnx.Linear(d, d, rngs=rngs)
        self.read_v = nnx.Linear(d, d, rngs=rngs)
        self.colour = nnx.Linear(d, N_COLOURS, rngs=rngs)
        self.a = nnx.Param(jnp.zeros(()))
        self.b = nnx.Param(jnp.ones(()))

    def __call__(self, display, probe_loc, probe_col, *, gumbel, noise, keep):
        """``display [B, L, C + 1]``, probe location and colour ``[B]``, Gumbel draws ``[B, L]``, noise and
        capacity ``[B]`` -> (``logit(change)`` ``[B]``, probed square held ``[B]``, slots held ``[B, L]``)."""
        b, n = display.shape[:2]
        st = self.ws.step(self.ws.initial_state(b), display, gumbel=gumbel[:, None], noise=noise, keep=keep)
        kept = self.read_v(st.elements) * st.gate[..., None]  # forward: only the workspace's contents
        keys = jnp.broadcast_to(self.read_k(self.ws.slot_embed[...]), kept.shape)
        q = self.read_q(self.probe[...][probe_loc])
        r = dot_product_attention(
            q[:, None, None], keys[:, :, None], kept[:, :, None], name="change_detection.probe"
        )[:, 0, 0]
        logp = jax.nn.log_softmax(self.colour(r), axis=-1)
        lp = jnp.minimum(jnp.take_along_axis(logp, probe_col[:, None], axis=1)[:, 0], -1e-6)
        logit = self.a[...] + self.b[...] * (jnp.log(-jnp.expm1(lp)) - lp)  # a - b logit p(probe colour)
        held = jnp.take_along_axis(st.selected, probe_loc[:, None], axis=1)[:, 0]
        return logit, held, st.selected


def _displays(key: jax.Array, batch: int, wcfg: WorkspaceFit, *, set_size=None, change=None) -> dict:
    """Random change-detection trials: ``set_size`` squares (default 1-8) of distinct colours at random
    locations; the probe is one studied square, its colour changed (to a colour not shown) when ``change``."""
    ks = jax.random.split(key, 5)
    n_loc = wcfg.n_locations
    n = (
        jax.random.randint(ks[0], (batch,), 1, 9)
        if set_size is None
        else jnp.broadcast_to(set_size, (batch,))
    )
    ch = jax.random.bernoulli(ks[1], 0.5, (batch,)) if change is None else jnp.broadcast_to(change, (batch,))
    rank = jnp.argsort(jax.random.uniform(ks[2], (batch, n_loc)), axis=1).argsort(axis=1)  # random ranks
    present = rank < n[:, None]
    cols = jnp.argsort(jax.random.uniform(ks[3], (batch, N_COLOURS)), axis=1)  # colour of the item ranked r
    colour = jnp.take_along_axis(cols, jnp.minimum(rank, N_COLOURS - 1), axis=1)
    display = jnp.concatenate(
        [jax.nn.one_hot(colour, N_COLOURS) * present[..., None], present[..., None]], -1
    )
    probe_loc = jnp.argmin(rank, axis=1)  # the item ranked 0: a random studied square
    probe_col = jnp.where(ch, cols[jnp.arange(batch), n], cols[:, 0])  # cols[n] is not in the display
    return {
        "display": display.astype(jnp.float32),
        "probe_loc": probe_loc,
        "probe_col": probe_col,
        "change": ch.astype(jnp.float32),
        "present": present,
        "set_size": n,
        "gumbel": jax.random.gumbel(ks[4], (batch, n_loc)),
    }


def train_change_detector(wcfg: WorkspaceFit, *, key: jax.Array):
    """Trains :class:`ChangeDetector` on random displays (set sizes 1-8, half change trials), with the
    capacity drawn from ``top_k_grid`` and the noise from ``U(0, train_noise_max)`` on every trial, so one
    network serves the whole grid. Returns ``(graphdef, params, history)``."""
    graphdef, _ = nnx.split(nnx.eval_shape(lambda: ChangeDetector(wcfg, rngs=nnx.Rngs(0))))
    grid_k = jnp.asarray(wcfg.top_k_grid)

    def init(k):
        return nnx.split(ChangeDetector(wcfg, rngs=nnx.Rngs(k)))[1]

    def batch_fn(k, step):
        k1, k2, k3 = jax.random.split(k, 3)
        d = _displays(k1, wcfg.batch, wcfg)
        d["keep"] = grid_k[jax.random.randint(k2, (wcfg.batch,), 0, len(wcfg.top_k_grid))]
        d["noise"] = jax.random.uniform(k3, (wcfg.batch,), maxval=wcfg.train_noise_max)
        return d

    def loss_fn(params, d, k):
        net = nnx.merge(graphdef, params)
        logit, _, _ = net(
            d["display"], d["probe_loc"], d["probe_col"], gumbel=d["gumbel"], noise=d["noise"], keep=d["keep"]
        )
        loss = jnp.mean(optax.sigmoid_binary_cross_entropy(logit, d["change"]))
        return loss, {"accuracy": jnp.mean((logit > 0) == (d["change"] > 0))}

    opt = optax.adam(wcfg.lr)
    k_init, k_train = jax.random.split(key)

    def run(k_init, k_train):
        update = train.make_update(loss_fn, opt, batch_fn=batch_fn)
        state, hist = train.run_steps(update, train.init(init(k_init), opt), k_train, wcfg.train_steps)
        return state.params, hist

    params, hist = jax.jit(run, compiler_options=bn.compiler_options())(k_init, k_train)
    return graphdef, params, {k: np.asarray(v) for k, v in hist.items()}


def simulate_grid(graphdef, params, wcfg: WorkspaceFit, *, key: jax.Array, set_sizes=(2, 5, 8)) -> dict:
    """The trained network's responses at every grid point (capacity x noise), set size and change.

    Returns:
      ``logit [G, S, 2, trials]`` (change logits; axis 2: same, change), ``held [G, S, 2, trials]`` (probed
      square in the workspace) and ``items_held [G, S]`` (mean number of display squares held), with
      ``G = len(top_k_grid) * len(noise_grid)`` ordered capacity-major.
    """
    grid = [(k, s) for k in wcfg.top_k_grid for s in wcfg.noise_grid]
    gk = jnp.asarray([g[0] for g in grid])
    gs = jnp.asarray([g[1] for g in grid], jnp.float32)
    m = wcfg.trials
    net_size = jnp.repeat(jnp.asarray(set_sizes), 2 * m)
    net_change = jnp.tile(jnp.repeat(jnp.array([0, 1]), m), len(set_sizes))
    bsz = len(set_sizes) * 2 * m

    def point(args):
        i, k, s = args
        d = _displays(jax.random.fold_in(key, i), bsz, wcfg, set_size=net_size, change=net_change)
        net = nnx.merge(graphdef, params)
        logit, held, sel = net(
            d["display"],
            d["probe_loc"],
            d["probe_col"],
            gumbel=d["gumbel"],
            noise=jnp.full((bsz,), s),
            keep=jnp.full((bsz,), k),
        )
        items = jnp.sum(sel * d["present"], axis=1)
        return logit, held, items

    logit, held, items = jax.jit(lambda a: jax.lax.map(point, a), compiler_options=bn.compiler_options())(
        (jnp.arange(len(grid)), gk, gs)
    )
    shape = (len(grid), len(set_sizes), 2, m)
    return {
        "logit": np.asarray(logit).reshape(shape),
        "held": np.asarray(held).reshape(shape),
        "items_held": np.asarray(items).reshape(shape).mean(axis=(2, 3)),
        "grid": grid,
        "set_sizes": tuple(set_sizes),
    }


BETA_GRID = np.linspace(-8.0, 8.0, 321)  # response criterion shifts tried per change-probability block


def _predicted(sim: dict, cells: pd.DataFrame) -> np.ndarray:
    """``P("change") [G, cells, beta]`` for every grid point, data cell and criterion shift."""
    s_idx = np.array([sim["set_sizes"].index(n) for n in cells.set_size])
    logit = sim["logit"][:, s_idx, cells.is_change.to_numpy()]  # [G, cells, trials]
    p = np.empty(logit.shape[:2] + (len(BETA_GRID),))
    for j, beta in enumerate(BETA_GRID):
        p[..., j] = np.mean(1 / (1 + np.exp(-(logit + beta))), axis=-1)
    return np.clip(p, 1e-6, 1 - 1e-6)


def _grid_loglik(logp, log1mp, blocks, n, k):
    """Log-likelihood (up to the binomial constant) of count tables ``n, k [..., cells]`` at every grid point,
    with the best criterion shift per block: returns ``(ll [..., G], beta_index [..., G, blocks])``."""
    n, k = np.asarray(n, float), np.asarray(k, float)
    per_block = np.stack(
        [
            np.einsum("...c,gcj->...gj", k[..., blocks == b], logp[:, blocks == b])
            + np.einsum("...c,gcj->...gj", (n - k)[..., blocks == b], log1mp[:, blocks == b])
            for b in np.unique(blocks)
        ],
        axis=-2,
    )  # [..., G, blocks, beta]
    best = per_block.argmax(axis=-1)
    return np.take_along_axis(per_block, best[..., None], axis=-1)[..., 0].sum(axis=-1), best


def fit_workspace(config: Config, counts: capacity.Counts, *, key: jax.Array) -> ModelFit:
    """The workspace network, trained on the task, with capacity and noise fitted to the trials.

    The grid point (``top_k``, ``noise``) and one response-criterion shift per change-probability block
    (``P("change") = sigmoid(logit + beta_block)``) maximise the binomial likelihood of the group's counts.
    CIs come from refitting participant bootstrap resamples over the same grid. ``K`` is the model's mean
    number of squares held at set size 8 (comparable with the fixed-capacity K); ``g_*`` are its guess rates
    (P("change") when the probed square is not in the workspace).
    """
    wcfg = config.workspace
    k_train, k_sim, k_boot = jax.random.split(key, 3)
    graphdef, params, _ = train_change_detector(wcfg, key=k_train)
    sim = simulate_grid(graphdef, params, wcfg, key=k_sim)
    return fit_grid(config, counts, sim, key=k_boot)


def fit_grid(config: Config, counts: capacity.Counts, sim: dict, *, key: jax.Array) -> ModelFit:
    """Fits the grid of :func:`simulate_grid` to the counts (see :func:`fit_workspace`)."""
    k_boot = key
    cells = _cells(counts)
    p = _predicted(sim, cells)
    logp, log1mp = np.log(p), np.log1p(-p)
    blocks = np.asarray(counts.block)
    group_ll, group_beta = _grid_loglik(logp, log1mp, blocks, counts.n.sum(0), counts.k.sum(0))
    g = int(np.argmax(group_ll))
    rng = np.random.default_rng(np.asarray(jax.random.key_data(k_boot)))
    n_sub = counts.n.shape[0]
    w = np.stack([np.bincount(rng.integers(0, n_sub, n_sub), minlength=n_sub) for _ in range(config.n_boot)])
    fits = [
        _grid_loglik(logp, log1mp, blocks, w[i : i + 100] @ counts.n, w[i : i + 100] @ counts.k)
        for i in range(0, len(w), 100)
    ]  # chunks bound the memory of the [resamples, grid, beta] table
    boot_ll, boot_beta = np.concatenate([f[0] for f in fits]), np.concatenate([f[1] for f in fits])
    boot_g = boot_ll.argmax(axis=-1)
    alpha = (1 - config.level) / 2
    s8 = sim["set_sizes"].index(max(sim["set_sizes"]))

    def guess(gi, bi, b):
        """P("change") on trials whose probed square is not held, at grid point gi with shift index bi."""
        lg, held = sim["logit"][gi], sim["held"][gi]
        pr = 1 / (1 + np.exp(-(lg + BETA_GRID[bi])))
        return float(pr[held < 0.5].mean()) if np.any(held < 0.5) else np.nan

    rows = []

    def add(name, value, draws=None, participant=-1):
        lo, hi = (
            (np.nan, np.nan)
            if draws is None
            else np.nanquantile(np.asarray(draws, float), [alpha, 1 - alpha])
        )
        rows.append(
            {
                "participant": participant,
                "name": name,
                "value": float(value),
                "ci_low": float(lo),
                "ci_high": float(hi),
            }
        )

    items = sim["items_held"][:, s8]
    add("K", items[g], items[boot_g])
    add("top_k", sim["grid"][g][0], [sim["grid"][i][0] for i in boot_g])
    add("noise", sim["grid"][g][1], [sim["grid"][i][1] for i in boot_g])
    for b, pc in enumerate(counts.p_change):
        draws = [guess(i, boot_beta[r, i, b], b) for r, i in enumerate(boot_g)]
        add(f"g_{pc:g}", guess(g, group_beta[g, b], b), draws)
    for j, n in enumerate(sim["set_sizes"]):
        add(f"p_held_n{n}", sim["held"][g, j].mean())
    if config.per_participant:
        part_ll, _ = _grid_loglik(logp, log1mp, blocks, counts.n, counts.k)
        for s, gi in enumerate(part_ll.argmax(axis=-1)):
            add("K", items[gi], participant=s)
    best = p[g, np.arange(len(cells)), group_beta[g, blocks]]
    loglik = float(jnp.sum(cmp.binomial_loglik(counts.k.sum(0), counts.n.sum(0), best)))
    return ModelFit(_by_condition(cells, best), pd.DataFrame(rows), loglik, 2 + len(counts.p_change))


MODELS["workspace"] = fit_workspace

SWEEP_VECTORIZED = ("sim_K", "sim_a", "sim_guess")


def sweep_point(config: Config, *, key: jax.Array) -> dict[str, jax.Array]:
    """One simulated observer with capacity ``sim_K``, attention ``sim_a`` and guess rate ``sim_guess``.

    Returns the log-likelihood of the real trial data under these parameters (so a sweep over them traces the
    likelihood surface) and the observer's simulated Cowan K and accuracy at each set size (p_change = 0.5).
    Pure JAX: sweeps vectorise it over the ``sim_*`` fields and seeds.

    Example:
      >>> import jax
      >>> out = sweep_point(Config(sim_K=3.0), key=jax.random.key(0))
      >>> sorted(out)[:2]
      ['accuracy_n2', 'accuracy_n5']
    """
    counts = _counts_cached()
    nb = len(counts.p_change)
    params = {
        "K": jnp.asarray(config.sim_K),
        "a": jnp.asarray(config.sim_a),
        "g": jnp.full((nb,), config.sim_guess),
    }
    p = capacity.predict(params, counts.set_size, counts.block, counts.is_change)
    out = {
        "loglik": capacity.loglik(params, counts, jnp.asarray(counts.n.sum(0)), jnp.asarray(counts.k.sum(0)))
    }
    k_sim = jax.random.binomial(key, config.sim_trials, p).astype(jnp.float32) / config.sim_trials
    half = counts.p_change.index(0.5)
    for n in sorted(set(counts.set_size.tolist())):
        hit = k_sim[(counts.set_size == n) & (counts.block == half) & (counts.is_change == 1)][0]
        fa = k_sim[(counts.set_size == n) & (counts.block == half) & (counts.is_change == 0)][0]
        out[f"cowan_k_n{n}"] = n * (hit - fa)
        out[f"accuracy_n{n}"] = (hit + 1 - fa) / 2
    return out


def _counts() -> capacity.Counts:
    return capacity.counts_from_trials(data.load("rouder2008_change_detection"))


@functools.cache
def _counts_cached() -> capacity.Counts:
    return _counts()


def reference(config: Config | None = None) -> Reference:
    """Observed hit and false-alarm rates per set size x change probability, with between-participant SEMs."""
    counts = _counts()
    cells = _cells(counts)
    rate = counts.k / np.maximum(counts.n, 1)  # [participants, cells]
    rows = []
    for (n, pc), idx in cells.groupby(["set_size", "p_change"]).groups.items():
        ch = [i for i in idx if cells.is_change[i] == 1][0]
        sm = [i for i in idx if cells.is_change[i] == 0][0]
        hit = counts.k[:, ch].sum() / counts.n[:, ch].sum()
        fa = counts.k[:, sm].sum() / counts.n[:, sm].sum()
        sem = lambda x: float(np.std(x, ddof=1) / np.sqrt(len(x)))  # noqa: E731
        rows.append(
            {
                "set_size": int(n),
                "p_change": float(pc),
                "hit_rate": hit,
                "fa_rate": fa,
                "hit_sem": sem(rate[:, ch]),
                "fa_sem": sem(rate[:, sm]),
                "n_change": int(counts.n[:, ch].sum()),
                "n_same": int(counts.n[:, sm].sum()),
                "cowan_k": float(cmp.cowan_k(n, hit, fa)),
            }
        )
    return Reference(pd.DataFrame(rows), kind="trial_level", source="Rouder et al. (2008)")


def simulate(config: Config, *, key: jax.Array) -> pd.DataFrame:
    """Fits each configured model to the trials.

    Returns:
      A long table: ``kind == "condition"`` rows hold predicted and observed hit / FA rates per set size x
      change probability; ``kind == "parameter"`` rows hold estimates with CIs (``participant`` -1 = group);
      ``kind == "fit"`` rows hold the log-likelihood and parameter count.

    Example:
      >>> import jax
      >>> cfg = Config(n_boot=20, fit_steps=300, per_participant=False)
      >>> df = simulate(cfg, key=jax.random.key(0))
      >>> sorted(df.kind.unique())
      ['condition', 'fit', 'parameter']
    """
    config = cfglib.validate(config)
    counts = _counts()
    obs = reference().table
    frames = []
    for i, name in enumerate(config.models):
        res = MODELS[name](config, counts, key=jax.random.fold_in(key, i))
        cond = res.conditions.merge(
            obs[["set_size", "p_change", "hit_rate", "fa_rate"]], on=["set_size", "p_change"]
        )
        cond = cond.rename(columns={"hit_rate": "hit_obs", "fa_rate": "fa_obs"})
        frames.append(cond.assign(kind="condition", model=name))
        frames.append(res.params.assign(kind="parameter", model=name))
        frames.append(
            pd.DataFrame(
                [
                    {"kind": "fit", "model": name, "name": "loglik", "value": res.loglik},
                    {"kind": "fit", "model": name, "name": "n_params", "value": float(res.n_params)},
                ]
            )
        )
    out = pd.concat(frames, ignore_index=True)
    return out.astype({"set_size": "Int64", "participant": "Int64"})


def compare(sim: pd.DataFrame, human: pd.DataFrame) -> cmp.Comparison:
    """Fit quality and the qualitative effects, for each model (the first model's K is the key metric)."""
    metrics, checks = [], []
    plateau = float(human.loc[human.set_size >= 5, "cowan_k"].mean())
    key = None
    for name in sim["model"].drop_duplicates():
        s = sim[sim.model == name]
        par = s[(s.kind == "parameter") & (s.participant == -1)].set_index("name")
        cond = s[s.kind == "condition"]
        fitrow = s[s.kind == "fit"].set_index("name")["value"]
        pred = np.concatenate([cond.hit_pred, cond.fa_pred])
        obs = np.concatenate([cond.hit_obs, cond.fa_obs])
        prefix = f"{name}." if len(sim["model"].unique()) > 1 else ""
        k = par.loc["K"]
        metrics.append(
            cmp.Metric(
                f"{prefix}K",
                float(k.value),
                float(k.ci_low),
                float(k.ci_high),
                human=plateau,
                note="human: mean Cowan K at set sizes 5 and 8",
            )
        )
        key = key or f"{prefix}K"
        for pname in par.index:
            if pname == "K":
                continue
            r = par.loc[pname]
            metrics.append(cmp.Metric(f"{prefix}{pname}", float(r.value), float(r.ci_low), float(r.ci_high)))
        err = cmp.rmse(pred, obs)
        metrics.append(cmp.Metric(f"{prefix}rmse_rates", err, note="hit and FA rates, 9 conditions"))
        metrics.append(cmp.Metric(f"{prefix}r_rates", cmp.pearson_r(pred, obs)))
        metrics.append(cmp.Metric(f"{prefix}loglik", float(fitrow["loglik"])))
        n_obs = int(human.n_change.sum() + human.n_same.sum())
        aic = 2 * fitrow["n_params"] - 2 * fitrow["loglik"]
        metrics.append(
            cmp.Metric(
                f"{prefix}aic", float(aic), note=f"{int(fitrow['n_params'])} parameters, {n_obs} trials"
            )
        )
        checks.append(
            cmp.Check(
                f"{prefix}K plateaus near the set-size-5/8 level",
                abs(k.value - plateau) < 0.5,
                f"fitted K {k.value:.2f} vs Cowan K at N = 5, 8: {plateau:.2f} (tolerance 0.5 items)",
            )
        )
        gs = par.loc[[n for n in par.index if n.startswith("g_")]].sort_index()
        if len(gs) > 1:
            vals = gs.value.to_numpy()
            checks.append(
                cmp.Check(
                    f"{prefix}guessing rises with change probability",
                    bool(np.all(np.diff(vals) > 0)),
                    ", ".join(f"{i} = {v:.2f}" for i, v in zip(gs.index, vals, strict=True)),
                )
            )
        checks.append(
            cmp.Check(
                f"{prefix}hit and false-alarm rates reproduced (RMSE < 0.05)",
                err < 0.05,
                f"RMSE {err:.3f} over {len(pred)} rates",
            )
        )
    table = sim[sim.kind == "condition"][
        ["model", "set_size", "p_change", "hit_obs", "hit_pred", "fa_obs", "fa_pred"]
    ]
    return cmp.Comparison(tuple(metrics), tuple(checks), key=key, tables={"model_vs_human": table})


def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """One panel per model: hit and false-alarm rates by set size and change probability; last panel: the
    participants' K (first model) with every model's group K and CI."""
    from cogsim import plots

    names = list(sim["model"].drop_duplicates())
    fig, axes = plots.panels(len(names) + 1, ncols=len(names) + 1)
    for a1, name in zip(axes, names, strict=False):
        cond = sim[(sim.kind == "condition") & (sim.model == name)]
        for col, pred in (("hit_rate", "hit_pred"), ("fa_rate", "fa_pred")):
            plots.model_vs_human(
                cond.rename(columns={pred: col}),
                human,
                x="set_size",
                y=col,
                hue="p_change",
                ax=a1,
                human_yerr=col.replace("rate", "sem"),
                xlabel="set size",
                ylabel="P(respond change)",
            )
        handles = dict(zip(*reversed(a1.get_legend_handles_labels()), strict=True))
        a1.legend(handles.values(), handles.keys(), fontsize=6, frameon=False, loc="center left")
        a1.set_title(f"{name}: hits (top) and false alarms (bottom)", fontsize=9)
    a2 = axes[-1]
    for i, name in enumerate(names):
        par = sim[(sim.kind == "parameter") & (sim.model == name) & (sim.name == "K")]
        per = par[par.participant >= 0]
        grp = par[par.participant == -1].iloc[0]
        if i == 0 and len(per):
            a2.hist(per.value, bins=12, color="0.7", label=f"participants ({name})")
        a2.axvspan(grp.ci_low, grp.ci_high, color=f"C{i + 1}", alpha=0.3, label=f"{name} group K (CI)")
        a2.axvline(grp.value, color=f"C{i + 1}")
    a2.set_xlabel("capacity K (items)")
    a2.set_ylabel("participants")
    a2.legend(fontsize=7, frameon=False)
    return fig
