"""A sparse factor world: hidden dynamics given by a sparse factor graph (Bengio's consciousness prior).

``n_vars`` variables and ``n_factors`` factors, each factor coupling 2-3 variables (a bipartite graph drawn
with networkx's configuration model, seeded). At every step two factors with disjoint scopes fire (a cue says
which); a firing factor maps its variables through its own nonlinear rule, ``x_S <- tanh(A_f x_S + c_f)``,
and every other variable keeps its value. Some pairs of factors never fire together in training
(``FactorWorld.test_pairs``): the test of generalisation to unseen combinations.

Example:
  >>> w = make_world(8, 5, seed=1)
  >>> d = sample_sequences(w, w.train_pairs, seed=0, n=2, seq_len=3)
  >>> d["x"].shape, d["active"].shape
  ((2, 4, 8), (2, 3, 8))
"""

from __future__ import annotations

import dataclasses
import itertools

import networkx as nx
import numpy as np

from cogsim.errors import CogsimError, check_count

#: The largest scope of a factor.
MAX_SCOPE = 3


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

    Example:
      >>> w = make_world(6, 4, seed=0)
      >>> w.n_vars, w.n_factors, w.scopes
      (6, 4, ((1, 5), (0, 3, 4), (2, 4), (0, 3)))
      >>> sorted(w.graph.neighbors("f0")), w.weights.shape
      (['x1', 'x5'], (4, 3, 3))
      >>> w.train_pairs.tolist(), w.test_pairs.tolist()  # factors 2 and 3 never fire together in training
      ([[0, 1], [0, 2], [0, 3]], [[2, 3]])
      >>> w.scope_array()[0].tolist()  # padded with n_vars
      [1, 5, 6]
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
      holdout: share of the compatible pairs held out, in [0, 1) (at least one pair is held out).
      max_tries: redraws of the graph allowed.

    Example:
      >>> w = make_world(12, 8, seed=0)
      >>> all(2 <= len(s) <= 3 for s in w.scopes), len(w.test_pairs) > 0
      (True, True)
    """
    n_vars, n_factors = (
        check_count("make_world", "n_vars", n_vars),
        check_count("make_world", "n_factors", n_factors),
    )
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 <= holdout < 1:
        raise CogsimError(f"make_world: holdout={holdout!r} is not allowed; allowed: a share in [0, 1)")
    if MAX_SCOPE * n_factors < n_vars:
        raise CogsimError(
            f"make_world: n_factors={n_factors} cannot cover n_vars={n_vars} with scopes of <= 3"
        )
    try:
        rng = np.random.default_rng(seed)
    except (TypeError, ValueError) as e:
        raise CogsimError(
            f"make_world: got seed={seed!r}; allowed: an integer >= 0 (or an array of them): {e}"
        ) from None
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


def _check_pairs(world: FactorWorld, pairs) -> None:
    """Refuses ``pairs`` that are not a non-empty ``[P, 2]`` integer array of factors with disjoint scopes."""
    arr = np.asarray(pairs)
    nf = world.n_factors
    if arr.ndim != 2 or arr.shape[1] != 2 or not len(arr) or arr.dtype.kind not in "iu":
        raise CogsimError(
            f"sample_sequences: pairs of shape {arr.shape} (dtype {arr.dtype}) are not allowed; allowed: a "
            "non-empty [P, 2] integer array of factor pairs, e.g. world.train_pairs"
        )
    out = arr[((arr < 0) | (arr >= nf)).any(1)]
    if len(out):
        raise CogsimError(
            f"sample_sequences: pair {out[0].tolist()} is not allowed; allowed: factors 0..{nf - 1}"
        )
    for a, b in arr.tolist():
        if set(world.scopes[a]) & set(world.scopes[b]):
            raise CogsimError(
                f"sample_sequences: pair {[a, b]} is not allowed: the scopes {world.scopes[a]} and "
                f"{world.scopes[b]} overlap; allowed: pairs of factors with disjoint scopes"
            )


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

    Raises:
      CogsimError: ``pairs`` not a non-empty ``[P, 2]`` array of factors of ``world`` with disjoint scopes,
        or ``n`` or ``seq_len`` below 1.
    """
    _check_pairs(world, pairs)
    n, seq_len = check_count("sample_sequences", "n", n), check_count("sample_sequences", "seq_len", seq_len)
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
