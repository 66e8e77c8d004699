"""Reddy's in-context classification sequences (Reddy, ICLR 2024; Chan et al., 2022).

``K`` classes with means ``mu_k ~ N(0, I_D / D)`` and ``L`` label vectors ``l_j ~ N(0, I_D / D)``; class ``k``
carries label ``k mod L``. An item of class ``k`` is ``(mu_k + eps * eta) / sqrt(1 + eps^2)`` with
``eta ~ N(0, I_D / D)``. A sequence is ``x_1, l_1, ..., x_N, l_N, x_q``; the target is the label of the query
``x_q``.

- A *bursty* sequence (probability ``p_B``) holds ``N / B`` classes, each ``B`` times, shuffled; the query's
  class is one of them. Otherwise the ``N`` items and the query are drawn i.i.d. from the rank-frequency law
  ``P(k) ~ (k + 1)^-alpha``.
- With probability ``p_C`` a sequence is built from freshly drawn (novel) classes with random labels.
- Test sets: ``ic`` (novel classes, p_B = p_C = 1: only solvable in context), ``ic2`` (known classes whose
  labels are swapped to ``(label + 1) mod L`` in the context and the target), ``iw`` (non-bursty known
  classes: only solvable in weights).

Tokens are a one-hot position among ``2 * N_max + 1`` slots (the ``2N + 1`` used slots start at a random
shift) concatenated with the ``D``-dimensional content. Everything is pure JAX and ``jax.vmap``-able over
keys and over the traced task settings (``eps``, ``alpha``, ``p_B``, ``p_C``; ``K`` and ``B`` with
``K_max``). The induction-head networks of :mod:`cogsim.models.induction` are trained on these sequences.

Example:
  >>> import jax
  >>> from cogsim.tasks import reddy_sequences as rs
  >>> task = rs.TaskConfig(K=64, L=8, N=4, D=15, N_max=4, B=2)
  >>> world = rs.make_world(jax.random.key(0), task)
  >>> batch = jax.jit(lambda k: rs.sample_batch(k, world, task, 3))(jax.random.key(1))  # compiled once
  >>> batch["tokens"].shape
  (3, 9, 24)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from cogsim import config as cfglib
from cogsim.errors import ConfigError

MODES = ("train", "ic", "ic2", "iw")


def _draw_key(key: jax.Array, salt: int) -> jax.Array:
    """The key of one bulk draw (data, initial weights): ``fold_in(key, salt)``.

    Draws stay in the key's own implementation (threefry by default), whose numbers do not depend on
    ``jax.vmap``: a seed trained alone or inside a vmapped sweep sees the same data. (XLA's
    RngBitGenerator, ``impl="rbg"``, is not vmap-consistent: under ``vmap`` each row's bits depend on the
    other keys of the batch.)
    """
    return jax.random.fold_in(key, salt)


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """The data distribution of Reddy's in-context classification task.

    ``eps``, ``alpha``, ``p_B`` and ``p_C`` may be traced (varied under ``jax.vmap``); so may ``K`` and ``B``
    when ``K_max`` fixes the number of allocated classes (``B`` must still divide ``N``). The others fix
    shapes.

    Example:
      >>> task = TaskConfig(K=64, L=8, N=4, D=15, N_max=4, B=2)
      >>> task.seq_len, task.token_dim, task.n_ctx_classes  # x1 l1 ... x4 l4 xq; 9 slots + 15 dims; 4 / 2
      (9, 24, 2)
      >>> TaskConfig(K=60, L=8)
      Traceback (most recent call last):
      ...
      cogsim.errors.ConfigError: config field 'K': got 60; allowed: a multiple of L = 8
    """

    K: int = cfglib.field(512, low=1, doc="number of classes (a multiple of L)")
    L: int = cfglib.field(32, low=2, doc="number of labels")
    N: int = cfglib.field(8, low=1, doc="item-label pairs in the context")
    D: int = cfglib.field(63, low=1, doc="content dimension")
    eps: float = cfglib.field(0.1, low=0.0, doc="within-class noise")
    B: int = cfglib.field(
        2, low=0, doc="burstiness: copies of each class in a bursty context (0 = no bursts)"
    )
    p_B: float = cfglib.field(1.0, low=0.0, high=1.0, doc="fraction of bursty sequences")
    p_C: float = cfglib.field(0.0, low=0.0, high=1.0, doc="fraction of sequences of novel classes")
    alpha: float = cfglib.field(0.0, low=0.0, doc="Zipf exponent of the class rank-frequency law")
    N_max: int = cfglib.field(32, low=1, doc="position slots are 2 * N_max + 1")
    shift: bool = cfglib.field(True, doc="random shift of the one-hot positions")
    distinct_labels: bool = cfglib.field(True, doc="classes in one bursty context carry distinct labels")
    K_max: int = cfglib.field(
        0, low=0, doc="classes allocated (0 = K); with K_max set, K and B may be traced"
    )

    def __post_init__(self):
        # direct construction is checked too; settings traced under jax.vmap/jit are checked by the caller
        concrete = (int, float, bool, np.number, np.bool_)
        if all(isinstance(getattr(self, f.name), concrete) for f in dataclasses.fields(self)):
            self.__post_validate__()

    def __post_validate__(self):
        if self.K % self.L:
            raise ConfigError("K", self.K, f"a multiple of L = {self.L}")
        if self.B > 0 and (self.N % self.B or self.B > self.N):
            raise ConfigError("B", self.B, f"0 or a divisor of N = {self.N}")
        if self.N > self.N_max:
            raise ConfigError("N_max", self.N_max, f"at least N = {self.N}")
        if self.distinct_labels and self.N // max(self.B, 1) > self.L:
            raise ConfigError("distinct_labels", True, f"False when N / B > L = {self.L}")
        if self.K_max and (self.K_max < self.K or self.K_max % self.L):
            raise ConfigError("K_max", self.K_max, f"0 or a multiple of L that is >= K = {self.K}")

    @property
    def K_pad(self) -> int:
        """Classes allocated in the world (``K_max`` or ``K``); only the first ``K`` are used."""
        return self.K_max or self.K

    @property
    def n_pos(self) -> int:
        """Number of one-hot position slots."""
        return 2 * self.N_max + 1

    @property
    def seq_len(self) -> int:
        return 2 * self.N + 1

    @property
    def token_dim(self) -> int:
        return self.n_pos + self.D

    @property
    def n_ctx_classes(self) -> int:
        """Distinct classes in a bursty context (``N / B``; ``N`` when ``B = 0``)."""
        return self.N // max(self.B, 1)


class World(NamedTuple):
    """The fixed part of a task instance: class means ``[K, D]`` and label vectors ``[L, D]``.

    Example:
      >>> import jax
      >>> world = make_world(jax.random.key(0), TaskConfig(K=64, L=8, N=4, D=15, N_max=4))
      >>> world.class_means.shape, world.label_vecs.shape
      ((64, 15), (8, 15))
    """

    class_means: jax.Array
    label_vecs: jax.Array


def make_world(key: jax.Array, cfg: TaskConfig) -> World:
    """Draws class means and label vectors, each entry ``N(0, 1/D)``.

    Example:
      >>> import jax
      >>> world = make_world(jax.random.key(0), TaskConfig(K=64, L=8, N=4, D=15, N_max=4))
      >>> round(float((world.class_means**2).sum(axis=1).mean()), 1)  # squared norms about 1
      1.0
    """
    s = 1.0 / math.sqrt(cfg.D)
    z = jax.random.normal(_draw_key(key, 10), (cfg.K_pad + cfg.L, cfg.D))
    return World(s * z[: cfg.K_pad], s * z[cfg.K_pad :])


def class_log_probs(cfg: TaskConfig, alpha: Any = None) -> jax.Array:
    """Log of the rank-frequency law ``P(k) ~ (k + 1)^-alpha`` over the ``K`` classes (rank = index).

    Returns ``K_pad`` entries; classes ``>= K`` get ``-inf``.

    Example:
      >>> p = jnp.exp(class_log_probs(TaskConfig(K=4, L=2, alpha=1.0, B=1, N=2, N_max=2)))
      >>> [round(float(x), 3) for x in p]
      [0.48, 0.24, 0.16, 0.12]
    """
    alpha = cfg.alpha if alpha is None else alpha
    k = jnp.arange(cfg.K_pad)
    logits = jnp.where(k < cfg.K, -alpha * jnp.log(k + 1.0), -jnp.inf)
    return jax.nn.log_softmax(logits)


def _cdf(log_probs):
    """Unnormalised CDF of ``exp(log_probs)`` along the last axis."""
    return jnp.cumsum(jnp.exp(log_probs - jnp.max(log_probs, axis=-1, keepdims=True)), axis=-1)


def _lookup(cdf, u):
    """Inverse-CDF lookup of uniforms ``u`` (any shape) in the 1-D ``cdf`` (binary search: cheap for large K).

    (A fused compare-and-count over the K entries gives the same indices but measured slower on a CPU, for
    training batches and far slower for test sets.)
    """
    return jnp.clip(jnp.searchsorted(cdf, u * cdf[-1], side="right"), 0, cdf.shape[0] - 1)


def _argsort_small(v: Float[Array, " n"]) -> jax.Array:
    """``jnp.argsort(v)`` (ascending, stable) of a short 1-D vector by counting comparisons.

    ``rank[i] = #{j: v[j] < v[i]} + #{j < i: v[j] == v[i]}`` is each entry's place in the stable order;
    the order is its inverse. ``O(n^2)`` fused compares instead of a sort: on a CPU 3-20 times faster for
    the sampler's shuffles of up to 64 entries (labels, context slots), slower beyond, where ``jnp.argsort``
    is used. The same permutation for any input without NaNs (``jnp.argsort`` also ranks ``-0.0`` equal to
    ``0.0``).
    """
    if v.shape[-1] > 64:
        return jnp.argsort(v)
    i = jnp.arange(v.shape[-1])
    before = (v[None, :] < v[:, None]) | ((v[None, :] == v[:, None]) & (i[None, :] < i[:, None]))
    rank = jnp.sum(before, axis=1)
    return jnp.sum(jnp.where(rank[None, :] == i[:, None], i[None, :], 0), axis=1)


def _static(x: Any) -> float | None:
    """``x`` as a float when it is a concrete Python number, else None (traced or array)."""
    return float(x) if isinstance(x, (int, float)) else None


def _sample_classes(u_lab, u_off, log_probs, L: int, distinct: bool):
    """``len(u_off)`` classes from ``exp(log_probs)``.

    With ``distinct``, the classes carry distinct labels (while labels remain): labels are drawn without
    replacement from their marginal law (Gumbel top-k on ``u_lab``, i.e. sequential draws), then each class
    within its label from the conditional law. This equals drawing the classes one by one from the law
    restricted to unused labels.
    """
    if not distinct:
        return _lookup(_cdf(log_probs), u_off)
    M = log_probs.shape[0] // L
    lp = log_probs.reshape(M, L).T  # [L, M]: class = m * L + label
    cdf = _cdf(lp)  # does not depend on the sequence: computed once per batch under vmap
    gumbel = -jnp.log(-jnp.log(jnp.clip(u_lab, 1e-12, 1.0 - 1e-7)))
    order = _argsort_small(-(jax.nn.logsumexp(lp, axis=1) + gumbel))
    labs = order[jnp.arange(u_off.shape[0]) % L]
    offs = jax.vmap(lambda lab, u: _lookup(cdf[lab], u))(labs, u_off)
    return offs * L + labs


def _sizes(cfg: TaskConfig) -> dict[str, int]:
    N, L = cfg.N, cfg.L
    return {"slots": N, "q": 1, "b": 1, "c": 1, "shift": 1, "nlab": L, "glab": L, "bc": N, "nb": N + 1}


def _one_sequence(u_all, z, world: World, cfg: TaskConfig, p_B, p_C, swap, class_logits, context_logits):
    """One sequence from its uniforms ``u_all`` and normals ``z [2N+1, D]``: tokens ``[2N+1, P+D]``,
    target, context labels, token ids, query class.

    ``p_B``, ``p_C`` (probabilities) and ``swap`` (0/1) may be traced, so that several test sets come from
    one vmapped call.
    """
    K, L, N, D = cfg.K_pad, cfg.L, cfg.N, cfg.D
    B = jnp.maximum(jnp.asarray(cfg.B, jnp.int32), 1)
    T, P = cfg.seq_len, cfg.n_pos
    class_label = jnp.arange(K) % L
    u, o = {}, 0
    for name, n in _sizes(cfg).items():
        u[name], o = u_all[o : o + n], o + n

    # bursty structure: N / B slots, each repeated B times, shuffled; query = one of the slots
    slots = (jnp.arange(N) // B)[_argsort_small(u["slots"])]
    q_slot = slots[jnp.minimum((u["q"][0] * N).astype(jnp.int32), N - 1)]

    def bursty():  # (a) bursty, known classes
        bc = _sample_classes(u["glab"], u["bc"], class_logits, L, cfg.distinct_labels)
        return bc[slots], bc[q_slot]

    def non_bursty():  # (b) non-bursty, known classes: i.i.d. context and an independent query
        return _lookup(_cdf(context_logits), u["nb"][:N]), _lookup(_cdf(class_logits), u["nb"][N])

    # A branch whose probability is a concrete 0 or 1 is not computed at all (the same numbers: the other
    # branch would be discarded by the selection below).
    b_static = 0.0 if _static(cfg.B) == 0 else _static(p_B)
    c_static = _static(p_C)
    if b_static is not None and b_static in (0.0, 1.0):
        known_cls, known_q = bursty() if b_static == 1.0 else non_bursty()
    else:
        is_b = u["b"][0] < jnp.where(jnp.asarray(cfg.B) == 0, 0.0, p_B)
        (b_cls, b_q), (nb_cls, nb_q) = bursty(), non_bursty()
        known_cls, known_q = jnp.where(is_b, b_cls, nb_cls), jnp.where(is_b, b_q, nb_q)
    shift_lab = jnp.asarray(swap, jnp.int32)
    known_lab = (class_label[known_cls] + shift_lab) % L
    known_qlab = (class_label[known_q] + shift_lab) % L
    known = {
        "ctx_means": world.class_means[known_cls],
        "q_mean": world.class_means[known_q],
        "ctx_lab": known_lab,
        "q_lab": known_qlab,
        "ctx_ids": known_cls,
        "q_id": known_q,
        "q_class": known_q,
    }
    if c_static == 0.0:
        seq = known
    else:  # (c) bursty, novel classes with fresh means and random labels
        novel_means = z[N + 1 :]
        if cfg.distinct_labels:
            novel_lab = _argsort_small(u["nlab"])[jnp.arange(N) % L]
        else:
            novel_lab = jnp.minimum((u["nlab"][jnp.arange(N) % L] * L).astype(jnp.int32), L - 1)
        novel = {
            "ctx_means": novel_means[slots],
            "q_mean": novel_means[q_slot],
            "ctx_lab": novel_lab[slots],
            "q_lab": novel_lab[q_slot],
            "ctx_ids": K + slots,
            "q_id": K + q_slot,
            "q_class": jnp.full_like(known_q, -1),
        }
        is_c = u["c"][0] < p_C
        seq = {k: jnp.where(is_c, novel[k], known[k]) for k in known}
    ctx_means, q_mean, ctx_lab, q_lab = seq["ctx_means"], seq["q_mean"], seq["ctx_lab"], seq["q_lab"]
    ctx_ids, q_id, q_class = seq["ctx_ids"], seq["q_id"], seq["q_class"]

    scale = 1.0 / jnp.sqrt(1.0 + cfg.eps**2)
    items = (ctx_means + cfg.eps * z[:N]) * scale
    query = (q_mean + cfg.eps * z[N]) * scale
    labels = world.label_vecs[ctx_lab]
    content = jnp.concatenate([jnp.stack([items, labels], 1).reshape(2 * N, D), query[None]], 0)

    shift = jnp.minimum((u["shift"][0] * (P - T + 1)).astype(jnp.int32), P - T) if cfg.shift else 0
    pos = jax.nn.one_hot(jnp.arange(T) + shift, P, dtype=content.dtype)
    tokens = jnp.concatenate([pos, content], -1)
    ids = jnp.concatenate([jnp.stack([ctx_ids, K + N + ctx_lab], 1).reshape(2 * N), q_id[None]])
    return {
        "tokens": tokens,
        "target": q_lab.astype(jnp.int32),
        "ctx_labels": ctx_lab.astype(jnp.int32),
        "token_ids": ids.astype(jnp.int32),
        "query_class": q_class.astype(jnp.int32),
    }


def mode_settings(cfg: TaskConfig, mode: str) -> tuple[Any, Any, int]:
    """``(p_B, p_C, swap)`` of a mode: the training distribution or one of the test sets.

    Example:
      >>> task = TaskConfig(p_B=0.5, p_C=0.1)
      >>> [mode_settings(task, m) for m in ("train", "ic", "ic2", "iw")]
      [(0.5, 0.1, 0), (1.0, 1.0, 0), (1.0, 0.0, 1), (0.0, 0.0, 0)]
    """
    if mode not in MODES:
        raise ConfigError("mode", mode, f"one of {list(MODES)}")
    return {"train": (cfg.p_B, cfg.p_C, 0), "ic": (1.0, 1.0, 0), "ic2": (1.0, 0.0, 1), "iw": (0.0, 0.0, 0)}[
        mode
    ]


def sample_batch(
    key: jax.Array,
    world: World,
    cfg: TaskConfig,
    batch_size: int,
    *,
    mode: str = "train",
    class_logits: Float[Array, " K"] | None = None,
    context_logits: Float[Array, " K"] | None = None,
) -> dict[str, jax.Array]:
    """A batch of sequences.

    Args:
      key: randomness of this batch.
      world: class means and label vectors from :func:`make_world`.
      cfg: the task; ``eps``, ``alpha``, ``p_B``, ``p_C`` may be traced.
      batch_size: number of sequences.
      mode: ``"train"`` (the training distribution), ``"ic"``, ``"ic2"`` (labels swapped, target swapped)
        or ``"iw"``.
      class_logits: log-probabilities over the ``K`` known classes replacing the Zipf law (e.g. to test only
        frequent or only rare classes).
      context_logits: for non-bursty sequences, the law of the context classes (default: ``class_logits``);
        e.g. disjoint from the query's band, so that an in-weights test never holds the query's class.

    Raises:
      ConfigError: an unknown ``mode``, or ``class_logits``/``context_logits`` without one entry per class.

    Returns:
      ``tokens [b, 2N+1, 2N_max+1+D]``, ``target [b]``, ``ctx_labels [b, N]``, ``token_ids [b, 2N+1]``
      (item tokens: class id, novel classes ``K + slot``; label tokens: ``K + N + label``) and
      ``query_class [b]`` (-1 for novel classes).

    Example:
      >>> import jax
      >>> task = TaskConfig(K=64, L=8, N=4, D=15, N_max=4, B=2)
      >>> w = make_world(jax.random.key(0), task)
      >>> b = jax.jit(lambda k: sample_batch(k, w, task, 5, mode="ic"))(jax.random.key(1))
      >>> bool((b["query_class"] == -1).all())
      True
    """
    p_B, p_C, swap = mode_settings(cfg, mode)
    for name, given in (("class_logits", class_logits), ("context_logits", context_logits)):
        if (
            given is not None
            and isinstance(cfg.K_pad, (int, np.integer))
            and jnp.shape(given) != (cfg.K_pad,)
        ):
            raise ConfigError(
                name,
                f"an array of shape {jnp.shape(given)}",
                f"shape ({cfg.K_pad},): one entry per class (K_pad)",
            )
    logits = class_log_probs(cfg) if class_logits is None else class_logits
    ctx = logits if context_logits is None else context_logits
    return sample_sequences(key, world, cfg, batch_size, p_B, p_C, swap, logits, ctx)


def sample_sequences(
    key: jax.Array,
    world: World,
    cfg: TaskConfig,
    batch_size: int,
    p_B: Any,
    p_C: Any,
    swap: Any,
    class_logits: Float[Array, " K"],
    context_logits: Float[Array, " K"] | None = None,
) -> dict[str, jax.Array]:
    """:func:`sample_batch` with the mode given as (possibly traced) values: one compiled sampler serves
    every test set. ``swap`` is 0 or 1 (IC2 label swap); see :func:`mode_settings`.

    Example:
      >>> import jax
      >>> task = TaskConfig(K=64, L=8, N=4, D=15, N_max=4, B=2)
      >>> f = jax.jit(lambda k, pb, pc, sw: sample_sequences(k, make_world(k, task), task, 4, pb, pc, sw,
      ...                                                    class_log_probs(task)))
      >>> f(jax.random.key(0), *mode_settings(task, "ic"))["query_class"].tolist()
      [-1, -1, -1, -1]
    """
    u = jax.random.uniform(_draw_key(key, 1), (batch_size, sum(_sizes(cfg).values())))
    z = jax.random.normal(_draw_key(key, 2), (batch_size, cfg.seq_len, cfg.D)) / math.sqrt(cfg.D)
    ctx = class_logits if context_logits is None else context_logits
    return jax.vmap(lambda uu, zz: _one_sequence(uu, zz, world, cfg, p_B, p_C, swap, class_logits, ctx))(u, z)
