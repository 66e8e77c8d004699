"""The workspace network doing the change-detection task (Rouder et al. 2008 displays), and its training.

:class:`ChangeDetector` holds the squares of a display in the slots of a
:class:`cogsim.models.bottleneck.Workspace` whose noisy top-k selection decides what survives the mask;
:func:`train_change_detector` trains it through :mod:`cogsim.train` on random displays with the capacity and
selection noise drawn per trial, so one network serves a whole (capacity x noise) grid; :func:`simulate_grid`
runs it at every grid point. The change-detection scenario fits the grid to trial data.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from cogsim import config as cfglib
from cogsim import train
from cogsim.attention import dot_product_attention
from cogsim.models import bottleneck as bn

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

    def __post_validate__(self):
        if max(self.top_k_grid) > self.n_locations:  # the workspace keeps at most every slot
            allowed = f"capacities of at most n_locations = {self.n_locations} (the network's slots)"
            raise cfglib.ConfigError("top_k_grid", self.top_k_grid, allowed)


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
      >>> d = jax.jit(displays, static_argnums=(1, 2))(jax.random.key(0), 4, WorkspaceFit())
      >>> forward = nnx.jit(ChangeDetector.__call__)  # compiled once, not run op by op
      >>> logit, held, _ = forward(net, d["display"], d["probe_loc"], d["probe_col"], gumbel=d["gumbel"],
      ...                          noise=jnp.zeros(4), keep=jnp.full(4, 3))
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
            q[:, None, None], keys[:, :, None], kept[:, :, None], name="change_detector.probe"
        )[:, 0, 0]
        logp = jax.nn.log_softmax(self.colour(r), axis=-1)
        lp = jnp.minimum(jnp.take_along_axis(logp, probe_col[:, None], axis=1)[:, 0], -1e-6)
        logit = self.a[...] + self.b[...] * (jnp.log(-jnp.expm1(lp)) - lp)  # a - b logit p(probe colour)
        held = jnp.take_along_axis(st.selected, probe_loc[:, None], axis=1)[:, 0]
        return logit, held, st.selected


def displays(key: jax.Array, batch: int, wcfg: WorkspaceFit, *, set_size=None, change=None) -> dict:
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
        d = displays(k1, wcfg.batch, wcfg)
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
        d = displays(jax.random.fold_in(key, i), bsz, wcfg, set_size=net_size, change=net_change)
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
