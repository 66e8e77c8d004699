"""Sparse-factor world: does a consciousness-prior bottleneck learn sparse dynamics from fewer samples?

The world's hidden dynamics are a sparse factor graph (Bengio's consciousness prior): ``n_vars`` variables and
``n_factors`` factors, each factor coupling 2-3 variables (a bipartite graph drawn with networkx's
configuration model, seeded). At every step two factors with disjoint scopes fire (a cue says which); a firing
factor maps its variables through its own nonlinear rule, ``x_S <- tanh(A_f x_S + c_f)``, and every other
variable keeps its value. Some pairs of factors never fire together during training; they are the test of
generalisation to unseen combinations.

One slot per variable. The models predict the next state from the current one and the cue:

- ``bottleneck``: the consciousness prior of :mod:`cogsim.models.bottleneck` (``top_k`` slots selected with
  Gumbel noise, broadcast back to every slot, InfoNCE verifier);
- ``workspace``: the shared global workspace variant;
- ``dense``: the same network without the bottleneck (every slot reads every slot; same parameters).

Measured: test error (normalised by the error of predicting "no change") by training-set size, on seen and on
unseen factor combinations, and whether the selected slots line up with the variables of the firing factors
(precision and recall against the graph).

Run: ``cogsim run sparse_factor_world`` (quick: 2 models x 3 training sizes x 2 seeds).
"""

from __future__ import annotations

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import optax
import pandas as pd
from flax import nnx

from cogsim import compare as cmp
from cogsim import config as cfglib
from cogsim import train
from cogsim.errors import CogsimError, ConfigError
from cogsim.models import bottleneck as bn

DESCRIPTION = (
    "Sparse factor-graph world: bottleneck vs dense prediction, sample efficiency and factor recovery"
)

MAX_SCOPE = 3


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the sparse-factor world and of the models trained in it."""

    n_vars: int = cfglib.field(12, low=4, high=64, doc="variables (= slots)")
    n_factors: int = cfglib.field(8, low=2, high=64, doc="factors, each coupling 2-3 variables")
    holdout: float = cfglib.field(
        0.3, low=0.05, high=0.8, doc="share of compatible factor pairs never trained"
    )
    gain: float = cfglib.field(1.5, low=0.1, high=5.0, doc="gain of each factor's rotation")
    seq_len: int = cfglib.field(4, low=2, high=32, doc="steps per training sequence")
    train_sizes: tuple[int, ...] = cfglib.field(
        (16, 64, 256), low=1, high=100_000, doc="training sequences (the sample sizes compared)"
    )
    seeds: int = cfglib.field(
        2, low=1, high=64, doc="independent worlds' samples and initialisations per size"
    )
    train_steps: int = cfglib.field(400, low=1, high=1_000_000, doc="Adam steps per model")
    batch: int = cfglib.field(32, low=2, high=4096, doc="sequences per step")
    lr: float = cfglib.field(0.01, low=1e-6, high=1.0, doc="Adam learning rate")
    models: tuple[str, ...] = cfglib.field(
        ("bottleneck", "dense"), doc="variants of cogsim.models.bottleneck"
    )
    top_k: int = cfglib.field(5, low=1, high=64, doc="slots in the conscious state")
    noise: float = cfglib.field(
        0.5, low=0.0, high=100.0, doc="Gumbel noise scale of the selection in training"
    )
    eval_noise: float = cfglib.field(0.0, low=0.0, high=100.0, doc="selection noise at test (0 = argmax)")
    slot_dim: int = cfglib.field(32, low=4, high=1024, doc="slot width")
    n_workspace: int = cfglib.field(2, low=1, high=64, doc="memory slots of the workspace variant")
    verifier_weight: float = cfglib.field(0.1, low=0.0, high=100.0, doc="weight of the InfoNCE verifier")
    sparse_update: bool = cfglib.field(True, doc="predict a change only for the slots in the conscious state")
    n_test: int = cfglib.field(256, low=8, high=100_000, doc="test sequences per split")
    graph_seed: int | None = cfglib.field(
        None, low=0, doc="seed of the factor graph (None: from the run key)"
    )

    def __post_validate__(self):
        for m in self.models:
            if m not in bn.VARIANTS:
                raise ConfigError("models", self.models, f"names from {list(bn.VARIANTS)}")
        if self.top_k > self.n_vars:
            raise ConfigError("top_k", self.top_k, f"an integer in [1, n_vars={self.n_vars}]")
        if MAX_SCOPE * self.n_factors < self.n_vars:
            raise ConfigError(
                "n_factors",
                self.n_factors,
                f"at least n_vars / 3 = {-(-self.n_vars // 3)} so that every variable belongs to a factor",
            )


PRESETS = {
    "quick": Config(),
    "paper": Config(
        train_sizes=(16, 32, 64, 128, 256, 512, 1024),
        seeds=5,
        train_steps=3000,
        lr=3e-3,
        models=("bottleneck", "workspace", "dense"),
        n_test=1024,
    ),
    "test": Config(
        n_vars=8,
        n_factors=5,
        train_sizes=(8, 32),
        seeds=1,
        train_steps=20,
        seq_len=3,
        slot_dim=8,
        top_k=3,
        n_test=16,
        batch=8,
    ),
}


# -------------------------------------------------------------------------------------------------- world
@dataclasses.dataclass(frozen=True)
class FactorWorld:
    """A sparse factor graph and its dynamics.

    Attributes:
      graph: bipartite networkx graph; nodes ``"f0".."f{F-1}"`` (``kind="factor"``) and ``"x0".."x{n-1}"``
        (``kind="variable"``).
      scopes: the variables of each factor.
      weights: ``[F, 3, 3]`` each factor's matrix ``A_f`` (zero-padded for 2-variable factors).
      offsets: ``[F, 3]`` each factor's offset ``c_f``.
      train_pairs: ``[P, 2]`` pairs of factors (disjoint scopes) that fire together in training.
      test_pairs: ``[Q, 2]`` held-out pairs; every factor in them also occurs in a training pair.
    """

    graph: nx.Graph
    scopes: tuple[tuple[int, ...], ...]
    weights: np.ndarray
    offsets: np.ndarray
    train_pairs: np.ndarray
    test_pairs: np.ndarray

    @property
    def n_vars(self) -> int:
        return sum(1 for _, k in self.graph.nodes(data="kind") if k == "variable")

    @property
    def n_factors(self) -> int:
        return len(self.scopes)

    def scope_array(self) -> np.ndarray:
        """``[F, 3]`` scopes padded with ``n_vars`` (an out-of-range index)."""
        out = np.full((self.n_factors, MAX_SCOPE), self.n_vars, np.int32)
        for f, s in enumerate(self.scopes):
            out[f, : len(s)] = s
        return out


def _split_pairs(scopes, holdout: float, rng: np.random.Generator):
    """Splits the pairs of factors with disjoint scopes into (train, held out), each factor still trained."""
    pairs = [
        (a, b)
        for a, b in itertools.combinations(range(len(scopes)), 2)
        if not set(scopes[a]) & set(scopes[b])
    ]
    if len(pairs) < 2:
        return None
    everyone = {f for p in pairs for f in p}
    n_hold = max(1, int(round(holdout * len(pairs))))
    test, train_set = [], list(pairs)
    for i in rng.permutation(len(pairs)):
        if len(test) == n_hold:
            break
        rest = [p for p in train_set if p != pairs[i]]
        if {f for p in rest for f in p} >= everyone:
            train_set, test = rest, test + [pairs[i]]
    return (train_set, test) if test else None


def make_world(
    n_vars: int, n_factors: int, *, seed: int, gain: float = 1.5, holdout: float = 0.3, max_tries: int = 200
) -> FactorWorld:
    """Draws a sparse factor world: factor scopes from a bipartite configuration model, rules, pair split.

    Every factor gets 2 or 3 variables, every variable at least one factor; factor rules are scaled random
    rotations ``A_f = gain * Q_f`` with small offsets. Pairs of factors with disjoint scopes are split into
    training and held-out pairs so that each factor still fires in some training pair.

    Args:
      n_vars: number of variables.
      n_factors: number of factors.
      seed: the seed of everything drawn here.
      gain: scale of the factor rotations (> 1 makes the tanh nonlinearity matter).
      holdout: share of the compatible pairs held out.
      max_tries: redraws of the graph allowed.

    Example:
      >>> w = make_world(12, 8, seed=0)
      >>> all(2 <= len(s) <= 3 for s in w.scopes), len(w.test_pairs) > 0
      (True, True)
    """
    if MAX_SCOPE * n_factors < n_vars:
        raise CogsimError(
            f"make_world: n_factors={n_factors} cannot cover n_vars={n_vars} with scopes of <= 3"
        )
    rng = np.random.default_rng(seed)
    for _ in range(max_tries):
        fdeg = rng.integers(2, MAX_SCOPE + 1, n_factors)
        total = int(fdeg.sum())
        if total < n_vars:
            continue
        vdeg = np.ones(n_vars, int)
        np.add.at(vdeg, rng.integers(0, n_vars, total - n_vars), 1)
        g = nx.bipartite.configuration_model(
            fdeg.tolist(), vdeg.tolist(), create_using=nx.Graph(), seed=int(rng.integers(2**31 - 1))
        )
        scopes = tuple(tuple(sorted(v - n_factors for v in g[f])) for f in range(n_factors))
        covered = all(g.degree(n_factors + i) >= 1 for i in range(n_vars))
        if not covered or not all(2 <= len(s) <= MAX_SCOPE for s in scopes):
            continue
        split = _split_pairs(scopes, holdout, rng)
        if split is not None:
            break
    else:
        raise CogsimError(
            f"make_world: no valid factor graph for n_vars={n_vars}, n_factors={n_factors} in "
            f"{max_tries} draws (every factor 2-3 variables, every variable covered, a pair of "
            "disjoint factors to hold out); use more factors or variables"
        )
    train_set, test = split
    names = {f: f"f{f}" for f in range(n_factors)} | {n_factors + i: f"x{i}" for i in range(n_vars)}
    graph = nx.relabel_nodes(g, names)
    nx.set_node_attributes(graph, {v: ("factor" if v.startswith("f") else "variable") for v in graph}, "kind")
    weights = np.zeros((n_factors, MAX_SCOPE, MAX_SCOPE), np.float32)
    offsets = np.zeros((n_factors, MAX_SCOPE), np.float32)
    for f, s in enumerate(scopes):
        q, r = np.linalg.qr(rng.normal(size=(len(s), len(s))))
        weights[f, : len(s), : len(s)] = gain * q * np.sign(np.diag(r))[None]
        offsets[f, : len(s)] = rng.normal(0, 0.3, len(s))
    return FactorWorld(
        graph, scopes, weights, offsets, np.array(train_set, np.int32), np.array(test, np.int32)
    )


def step_world(world: FactorWorld, x: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """One transition of states ``x [..., n]`` with the factors ``pairs [..., k]`` firing (disjoint scopes).

    Example:
      >>> w = make_world(8, 5, seed=1)
      >>> x = np.zeros(8); y = step_world(w, x, w.train_pairs[0])
      >>> touched = set(w.scopes[w.train_pairs[0][0]]) | set(w.scopes[w.train_pairs[0][1]])
      >>> sorted(np.flatnonzero(y != x).tolist()) == sorted(i for i in touched if y[i] != 0)
      True
    """
    x = np.asarray(x, np.float32)
    pairs = np.asarray(pairs)
    scopes = world.scope_array()
    padded = np.concatenate([x, np.zeros(x.shape[:-1] + (1,), np.float32)], axis=-1)  # index n = padding
    new = padded.copy()
    for j in range(pairs.shape[-1]):
        f = pairs[..., j]
        idx = scopes[f]  # [..., 3]
        xs = np.take_along_axis(padded, idx, axis=-1)
        y = np.tanh(np.einsum("...ij,...j->...i", world.weights[f], xs) + world.offsets[f])
        np.put_along_axis(new, idx, y, axis=-1)
    return new[..., :-1]


def sample_sequences(
    world: FactorWorld, pairs: np.ndarray, *, seed, n: int, seq_len: int
) -> dict[str, np.ndarray]:
    """``n`` sequences of ``seq_len`` transitions with factor pairs drawn uniformly from ``pairs``.

    Args:
      world: the factor world.
      pairs: ``[P, 2]`` the factor pairs that may fire.
      seed: seed of the draws (anything ``numpy.random.default_rng`` takes).
      n: number of sequences.
      seq_len: transitions per sequence.

    Returns:
      ``x [n, seq_len + 1, n_vars]`` states, ``cue [n, seq_len, n_factors]`` which factors fire at each step
      and ``active [n, seq_len, n_vars]`` the variables they touch (the ground truth for the selection).

    Example:
      >>> w = make_world(8, 5, seed=1)
      >>> d = sample_sequences(w, w.train_pairs, seed=0, n=3, seq_len=2)
      >>> d["x"].shape, d["cue"].shape, d["cue"].sum(-1).tolist()
      ((3, 3, 8), (3, 2, 5), [[2.0, 2.0], [2.0, 2.0], [2.0, 2.0]])
    """
    rng = np.random.default_rng(seed)
    nv, nf = world.n_vars, world.n_factors
    x = np.empty((n, seq_len + 1, nv), np.float32)
    x[:, 0] = rng.uniform(-1.0, 1.0, (n, nv))
    p = np.asarray(pairs)[rng.integers(0, len(pairs), (n, seq_len))]  # [n, T, 2]
    for t in range(seq_len):
        x[:, t + 1] = step_world(world, x[:, t], p[:, t])
    cue = np.zeros((n, seq_len, nf), np.float32)
    np.put_along_axis(cue, p, 1.0, axis=-1)
    active = np.zeros((n, seq_len, nv + 1), np.float32)
    np.put_along_axis(active, world.scope_array()[p].reshape(n, seq_len, -1), 1.0, axis=-1)
    return {"x": x, "cue": cue, "active": active[..., :nv]}


def _seed(key: jax.Array, i: int) -> np.ndarray:
    """A numpy seed derived from the run key (``fold_in(key, i)``)."""
    return np.asarray(jax.random.key_data(jax.random.fold_in(key, i)))


# -------------------------------------------------------------------------------------------------- model
class Predictor(nnx.Module):
    """A workspace over one slot per variable plus a per-slot readout of the change of that variable.

    With ``sparse_update`` only the slots in the conscious state predict a change (the others are predicted
    to stay put): the consciousness prior's bet that a transition touches few variables. The straight-through
    gate of :class:`cogsim.models.bottleneck.Step` lets this readout teach the selection.
    """

    def __init__(
        self, cfg: bn.BottleneckConfig, n_factors: int, *, sparse_update: bool = True, rngs: nnx.Rngs
    ):
        self.ws = bn.Workspace(cfg, in_features=1, context_features=n_factors, rngs=rngs)
        self.head = nnx.Linear(cfg.slot_dim, 1, rngs=rngs)
        self.sparse_update = sparse_update

    def __call__(self, x: jax.Array, cue: jax.Array, *, key: jax.Array, noise=None):
        """``x [B, T, n]`` observed states, ``cue [B, T, F]`` -> (predicted change ``[B, T, n]``, trace)."""
        trace = self.ws.unroll(x[..., None], cue, key=key, noise=noise)
        pred = self.head(trace.slots)[..., 0]
        return (pred * trace.gate if self.sparse_update else pred), trace


def _bcfg(config: Config, variant: str) -> bn.BottleneckConfig:
    return bn.BottleneckConfig(
        variant=variant,
        n_slots=config.n_vars,
        slot_dim=config.slot_dim,
        top_k=config.top_k,
        noise=config.noise,
        n_workspace=config.n_workspace,
        verifier_weight=config.verifier_weight,
    )


def _train_variant(config: Config, world: FactorWorld, variant: str, *, key: jax.Array, pools, tests):
    """Trains one variant for every (training size, seed) at once under ``jax.vmap``; returns metrics."""
    bcfg = _bcfg(config, variant)
    graphdef, abstract = nnx.split(
        nnx.eval_shape(
            lambda: Predictor(bcfg, world.n_factors, sparse_update=config.sparse_update, rngs=nnx.Rngs(0))
        )
    )
    runs = [(n, s) for n in config.train_sizes for s in range(config.seeds)]
    n_train = jnp.array([n for n, _ in runs], jnp.int32)
    seed_idx = np.array([s for _, s in runs])
    init_keys = jnp.stack([jax.random.fold_in(key, 1000 + s) for _, s in runs])
    train_keys = jnp.stack([jax.random.fold_in(key, 2000 + i) for i in range(len(runs))])
    opt = optax.adam(config.lr)
    seq = config.seq_len

    def loss_fn(params, batch, k):
        model = nnx.merge(graphdef, params)
        pred, trace = model(batch["x"][:, :-1], batch["cue"], key=k)
        mse = jnp.mean((pred - (batch["x"][:, 1:] - batch["x"][:, :-1])) ** 2)
        ver = model.ws.verifier_loss(trace)
        return mse + bcfg.verifier_weight * ver, {"mse": mse, "verifier": ver}

    def run(init_key, train_key, n, px, pc):
        params = nnx.split(
            Predictor(bcfg, world.n_factors, sparse_update=config.sparse_update, rngs=nnx.Rngs(init_key))
        )[1]

        def batch_fn(k, step):
            idx = jax.random.randint(k, (config.batch,), 0, n)
            return {"x": px[idx], "cue": pc[idx]}

        update = train.make_update(loss_fn, opt, batch_fn=batch_fn)
        state, hist = train.run_steps(update, train.init(params, opt), train_key, config.train_steps)
        model = nnx.merge(graphdef, state.params)
        out = {"final_loss": jnp.mean(hist["mse"][-max(1, config.train_steps // 10) :])}
        for split, d in tests.items():
            pred, trace = model(
                d["x"][:, :-1], d["cue"], key=jax.random.fold_in(train_key, 7), noise=config.eval_noise
            )
            delta = d["x"][:, 1:] - d["x"][:, :-1]
            out[f"sse_{split}"] = jnp.sum((pred - delta) ** 2)
            out[f"sse0_{split}"] = jnp.sum(delta**2)
            p, r = bn.precision_recall(trace.selected, d["active"])
            out[f"precision_{split}"], out[f"recall_{split}"] = jnp.mean(p), jnp.mean(r)
        return out

    px = jnp.stack([pools[s]["x"][:, : seq + 1] for s in seed_idx])
    pc = jnp.stack([pools[s]["cue"][:, :seq] for s in seed_idx])
    res = jax.jit(jax.vmap(run), compiler_options=bn.compiler_options())(
        init_keys, train_keys, n_train, px, pc
    )
    n_params = int(sum(np.prod(x.shape) for x in jax.tree_util.tree_leaves(abstract)))
    return runs, {k: np.asarray(v) for k, v in res.items()}, n_params


def world_for(config: Config, key: jax.Array) -> FactorWorld:
    """The world of a run: ``graph_seed`` if set, else a seed drawn from the run key."""
    seed = config.graph_seed
    if seed is None:
        seed = _seed(key, 0)
    return make_world(config.n_vars, config.n_factors, seed=seed, gain=config.gain, holdout=config.holdout)


def simulate(config: Config, *, key: jax.Array) -> pd.DataFrame:
    """Trains every model on every training size and seed; evaluates on seen and unseen factor pairs.

    Returns:
      One row per model x training size x seed x split (``seen``/``unseen``): ``nmse`` (squared error of the
      predicted change over that of predicting no change), ``precision`` / ``recall`` of the selected slots
      against the variables of the firing factors, their chance levels, and the parameter count.

    Example:
      >>> df = simulate(PRESETS["test"], key=jax.random.key(0))
      >>> sorted(df.split.unique()), sorted(df.model.unique())
      (['seen', 'unseen'], ['bottleneck', 'dense'])
    """
    config = cfglib.validate(config)
    world = world_for(config, key)
    n_pool = max(config.train_sizes)
    pools = [
        sample_sequences(world, world.train_pairs, seed=_seed(key, 100 + s), n=n_pool, seq_len=config.seq_len)
        for s in range(config.seeds)
    ]
    tests = {
        "seen": sample_sequences(
            world, world.train_pairs, seed=_seed(key, 200), n=config.n_test, seq_len=config.seq_len
        ),
        "unseen": sample_sequences(
            world, world.test_pairs, seed=_seed(key, 201), n=config.n_test, seq_len=config.seq_len
        ),
    }
    rows = []
    for i, variant in enumerate(config.models):
        runs, res, n_params = _train_variant(
            config, world, variant, key=jax.random.fold_in(key, 300 + i), pools=pools, tests=tests
        )
        for j, (n, s) in enumerate(runs):
            for split in tests:
                active = np.asarray(tests[split]["active"])
                rows.append(
                    {
                        "model": variant,
                        "n_train": int(n),
                        "seed": int(s),
                        "split": split,
                        "nmse": float(res[f"sse_{split}"][j] / res[f"sse0_{split}"][j]),
                        "precision": float(res[f"precision_{split}"][j]),
                        "recall": float(res[f"recall_{split}"][j]),
                        "precision_chance": float(active.mean()),
                        "recall_chance": min(
                            config.top_k * (config.n_workspace if variant == "workspace" else 1),
                            config.n_vars,
                        )
                        / config.n_vars
                        if variant != "dense"
                        else 1.0,
                        "train_mse": float(res["final_loss"][j]),
                        "n_params": n_params,
                        "top_k": config.top_k,
                        "n_vars": config.n_vars,
                        "n_factors": config.n_factors,
                        "n_train_pairs": len(world.train_pairs),
                        "n_test_pairs": len(world.test_pairs),
                    }
                )
    return pd.DataFrame(rows)


def human() -> pd.DataFrame:
    """No human data: this scenario tests a computational claim. An empty table with the result columns."""
    return pd.DataFrame(
        {
            "model": pd.Series(dtype=str),
            "n_train": pd.Series(dtype=int),
            "split": pd.Series(dtype=str),
            "nmse": pd.Series(dtype=float),
        }
    )


def _curve(sim: pd.DataFrame, model: str, split: str) -> pd.DataFrame:
    d = sim[(sim.model == model) & (sim.split == split)]
    return d.groupby("n_train", as_index=False).agg(
        nmse=("nmse", "mean"), precision=("precision", "mean"), recall=("recall", "mean")
    )


def samples_to_reach(n_train, nmse, criterion: float) -> float:
    """Training size at which an error curve first falls to ``criterion`` (log-linear interpolation); NaN
    if it never does.

    Example:
      >>> round(samples_to_reach([10, 100], [0.8, 0.4], 0.6), 2)
      31.62
    """
    n, e = np.asarray(n_train, float), np.asarray(nmse, float)
    if e[0] <= criterion:
        return float(n[0])
    for i in range(1, len(n)):
        if e[i] <= criterion:
            t = (e[i - 1] - criterion) / (e[i - 1] - e[i])
            return float(np.exp(np.log(n[i - 1]) + t * (np.log(n[i]) - np.log(n[i - 1]))))
    return float("nan")


def compare(sim: pd.DataFrame, human: pd.DataFrame) -> cmp.Comparison:
    """Bottleneck vs dense: error by training size, generalisation to unseen pairs, factor recovery."""
    metrics, checks = [], []
    models = list(sim.model.drop_duplicates())
    sel_models = [m for m in models if m != "dense"]
    sizes = sorted(sim.n_train.unique())
    big = sizes[-1]

    def per_seed(model, split, n, col="nmse"):
        d = sim[(sim.model == model) & (sim.split == split) & (sim.n_train == n)]
        return d[col].to_numpy()

    def with_ci(name, values, note=""):
        v = np.asarray(values, float)
        if len(v) > 1:
            est, lo, hi = cmp.bootstrap_ci(v, np.mean, n_boot=500)
        else:
            est, lo, hi = float(v.mean()), None, None
        metrics.append(cmp.Metric(name, est, lo, hi, note=note))
        return est

    for m in models:
        for n in sizes:
            with_ci(f"{m}.nmse_seen.n{n}", per_seed(m, "seen", n), "test error / error of 'no change'")
        for n in sizes:
            with_ci(f"{m}.nmse_unseen.n{n}", per_seed(m, "unseen", n), "unseen factor pairs")
        c = _curve(sim, m, "seen")
        metrics.append(
            cmp.Metric(
                f"{m}.samples_to_nmse_0.5",
                samples_to_reach(c.n_train, c.nmse, 0.5),
                note="training sequences to halve the no-change error (NaN: not reached)",
            )
        )
    key = None
    if "dense" in models:
        for m in sel_models:
            ratios = []
            for n in sizes:
                ratios.append(np.mean(per_seed("dense", "seen", n)) / np.mean(per_seed(m, "seen", n)))
            gm = float(np.exp(np.mean(np.log(ratios))))
            metrics.append(
                cmp.Metric(
                    f"{m}.dense_error_ratio",
                    gm,
                    note="geometric mean over sizes of dense / bottleneck test error (>1: bottleneck better)",
                )
            )
            key = key or f"{m}.dense_error_ratio"
            small = sizes[0]
            e_b, e_d = np.mean(per_seed(m, "seen", small)), np.mean(per_seed("dense", "seen", small))
            checks.append(
                cmp.Check(
                    f"{m} learns from few samples better than dense",
                    bool(gm > 1 and e_b < e_d),
                    f"test error at n={small}: {m} {e_b:.3f} vs dense {e_d:.3f}; "
                    f"geometric-mean dense/{m} ratio over sizes {gm:.2f}",
                )
            )
            u_ratios = [
                np.mean(per_seed("dense", "unseen", n)) / np.mean(per_seed(m, "unseen", n)) for n in sizes
            ]
            gm_u = float(np.exp(np.mean(np.log(u_ratios))))
            metrics.append(
                cmp.Metric(
                    f"{m}.dense_error_ratio_unseen",
                    gm_u,
                    note="as dense_error_ratio, on factor pairs never seen in training",
                )
            )
            u_b, u_d = np.mean(per_seed(m, "unseen", big)), np.mean(per_seed("dense", "unseen", big))
            checks.append(
                cmp.Check(
                    f"{m} generalises better than dense to unseen factor pairs",
                    bool(gm_u > 1),
                    f"geometric-mean dense/{m} unseen-pair error ratio over sizes {gm_u:.2f} (per size: "
                    + ", ".join(f"n={n}: {r:.2f}" for n, r in zip(sizes, u_ratios, strict=True))
                    + f"); at n={big}: {m} {u_b:.3f} vs dense {u_d:.3f}",
                )
            )
    for m in sel_models:
        for col in ("precision", "recall"):
            vals = per_seed(m, "seen", big, col)
            chance = float(sim[(sim.model == m)][f"{col}_chance"].iloc[0])
            est = with_ci(
                f"{m}.{col}", vals, f"selected slots vs variables of the firing factors (chance {chance:.2f})"
            )
            checks.append(
                cmp.Check(
                    f"{m} selection {col} above chance",
                    bool(est > chance + 0.1),
                    f"{col} {est:.2f} vs chance {chance:.2f} (margin 0.10), n={big}",
                )
            )
        key = key or f"{m}.precision"
    table = sim.groupby(["model", "split", "n_train"], as_index=False)[["nmse", "precision", "recall"]].mean()
    return cmp.Comparison(tuple(metrics), tuple(checks), key=key, tables={"summary": table})


def plot(sim: pd.DataFrame, human: pd.DataFrame, ax=None):
    """Left: test error by training size (seen: solid, unseen pairs: dashed); right: selection vs factors."""
    from cogsim import plots

    fig, (a1, a2) = plots.panels(2, ncols=2)
    for i, m in enumerate(sim.model.drop_duplicates()):
        for split, ls in (("seen", "-"), ("unseen", "--")):
            c = _curve(sim, m, split)
            a1.plot(c.n_train, c.nmse, ls, marker="o", color=f"C{i}", label=f"{m} ({split} pairs)")
    a1.axhline(1.0, color="0.6", lw=0.8)
    sizes = sorted(sim.n_train.unique())
    for a in (a1, a2):
        a.set_xscale("log")
        a.set_xticks(sizes, [str(n) for n in sizes])
        a.minorticks_off()
    a1.set_xlabel("training sequences")
    a1.set_ylabel("test error / 'no change' error")
    a1.legend(fontsize=7, frameon=False)
    a1.set_title("prediction of the next state")
    for i, m in enumerate(sim.model.drop_duplicates()):
        if m == "dense":
            continue
        for split, ls in (("seen", "-"), ("unseen", "--")):
            c = _curve(sim, m, split)
            a2.plot(c.n_train, c.precision, ls + "o", color=f"C{i}", label=f"{m} precision ({split} pairs)")
            a2.plot(
                c.n_train, c.recall, ls + "s", color=f"C{i}", mfc="white", label=f"{m} recall ({split} pairs)"
            )
        d = sim[sim.model == m]
        a2.axhline(d.precision_chance.iloc[0], color=f"C{i}", ls=":", lw=0.8)
        a2.axhline(d.recall_chance.iloc[0], color=f"C{i}", ls="-.", lw=0.8)
    a2.set_ylim(0, 1.05)
    a2.set_xlabel("training sequences")
    a2.set_ylabel("selected vs firing-factor variables")
    a2.set_title("selection (dotted: chance precision, dash-dot: chance recall)", fontsize=8)
    a2.legend(fontsize=7, frameon=False)
    return fig
