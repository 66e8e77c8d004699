"""Induction-head toy networks: in-context vs in-weights learning in Reddy's classification task.

Task (Reddy, ICLR 2024): ``K`` classes with means ``mu_k ~ N(0, I_D / D)`` and ``L`` label vectors
``l_j ~ N(0, I_D / D)``; class ``k`` carries label ``k mod L``. An item of class ``k`` is
``(mu_k + eps * eta) / sqrt(1 + eps^2)`` with ``eta ~ N(0, I_D / D)``. A sequence is
``x_1, l_1, ..., x_N, l_N, x_q``; the target is the label of the query ``x_q``.

- A *bursty* sequence (probability ``p_B``) holds ``N / B`` classes, each ``B`` times, shuffled; the query's
  class is one of them. Otherwise the ``N`` items and the query are drawn i.i.d. from the rank-frequency law
  ``P(k) ~ (k + 1)^-alpha``.
- With probability ``p_C`` a sequence is built from freshly drawn (novel) classes with random labels.
- Test sets: ``ic`` (novel classes, p_B = p_C = 1: only solvable in context), ``ic2`` (known classes whose
  labels are swapped to ``(label + 1) mod L`` in the context and the target), ``iw`` (non-bursty known
  classes: only solvable in weights).

Tokens are a one-hot position among ``2 * N_max + 1`` slots (the ``2N + 1`` used slots start at a random
shift) concatenated with the ``D``-dimensional content.

Network: two causal single-head attention-only layers with residuals,
``u <- u + softmax((u Wq)(u Wk)^T) u Wv``
(no ``1/sqrt(d)`` scaling, as in the original), through :func:`cogsim.attention.dot_product_attention` with
names ``"layer0"``, ``"layer1"``, then a ReLU classifier on the last token. Optionally a learned
``D x D`` *item embedding* multiplies the content of item tokens (not label tokens): it is the matrix the
weight-forgetting schedules of Anand et al. (ICLR 2025) re-initialise. It starts as a random orthogonal
matrix, so a network with it is the original network seen through a random rotation of the item space.

Everything is pure JAX: the generator, the network, the evaluation (with the progress measures captured
through :mod:`cogsim.probes`) and :func:`run`, which trains one network through :mod:`cogsim.train` and is
``jax.vmap``-able over keys and over the traced task settings (``eps``, ``alpha``, ``p_B``, ``p_C``) and the
forgetting schedule.

Example:
  >>> import jax
  >>> from cogsim.models import induction as ind
  >>> task = ind.TaskConfig(K=64, L=8, N=4, D=15, N_max=4, B=2)
  >>> world = ind.make_world(jax.random.key(0), task)
  >>> batch = ind.sample_batch(jax.random.key(1), world, task, 3)
  >>> batch["tokens"].shape
  (3, 9, 24)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
from jaxtyping import Array, Float, Int

from cogsim import attention as _attention
from cogsim import probes
from cogsim import train as _train
from cogsim.config import field
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


# ------------------------------------------------------------------------------------------------ configs
@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """The data distribution of Reddy's in-context classification task.

    ``eps``, ``alpha``, ``p_B`` and ``p_C`` may be traced (varied under ``jax.vmap``); so may ``K`` and ``B``
    when ``K_max`` fixes the number of allocated classes (``B`` must still divide ``N``). The others fix
    shapes.
    """

    K: int = field(512, low=1, doc="number of classes (a multiple of L)")
    L: int = field(32, low=2, doc="number of labels")
    N: int = field(8, low=1, doc="item-label pairs in the context")
    D: int = field(63, low=1, doc="content dimension")
    eps: float = field(0.1, low=0.0, doc="within-class noise")
    B: int = field(2, low=0, doc="burstiness: copies of each class in a bursty context (0 = no bursts)")
    p_B: float = field(1.0, low=0.0, high=1.0, doc="fraction of bursty sequences")
    p_C: float = field(0.0, low=0.0, high=1.0, doc="fraction of sequences of novel classes")
    alpha: float = field(0.0, low=0.0, doc="Zipf exponent of the class rank-frequency law")
    N_max: int = field(32, low=1, doc="position slots are 2 * N_max + 1")
    shift: bool = field(True, doc="random shift of the one-hot positions")
    distinct_labels: bool = field(True, doc="classes in one bursty context carry distinct labels")
    K_max: int = field(0, low=0, doc="classes allocated (0 = K); with K_max set, K and B may be traced")

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


@dataclasses.dataclass(frozen=True)
class NetConfig:
    """The attention-only network."""

    n_layers: int = field(2, low=1, doc="attention layers")
    mlp_layers: int = field(3, low=0, doc="ReLU layers of the classifier")
    mlp_width: int = field(0, low=0, doc="classifier width (0 = the token dimension)")
    init_scale: float = field(0.0, low=0.0, doc="std of Wq, Wk, Wv at init (0 = 1/sqrt(D))")
    shared_bias: bool = field(
        False, doc="one bias per classifier layer, as the original code (False: one per unit)"
    )
    item_embedding: bool = field(False, doc="learned D x D embedding of item contents")
    implementation: str = field(
        "xla",
        choices=("xla", "pallas", "interpret", "auto"),
        doc="attention implementation (auto = Pallas on GPU)",
    )


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Plain SGD as in the paper: ``p <- (1 - wd) p - lr * grad``."""

    lr: float = field(0.01, low=0.0, doc="SGD learning rate")
    batch_size: int = field(128, low=1, doc="sequences per step (fresh every step)")
    weight_decay: float = field(1e-6, low=0.0, doc="multiplicative weight decay per step")
    num_steps: int = field(20000, low=1, doc="optimiser steps")
    log_every: int = field(500, low=1, doc="steps between evaluations")
    n_test: int = field(2000, low=1, doc="sequences per test set (paper: 10,000)")
    eval_chunk: int = field(1000, low=1, doc="test sequences per forward pass")


@dataclasses.dataclass(frozen=True)
class ScenarioConfig:
    """Fields shared by the scenario configs built on this model (defaults: Reddy's setting).

    A scenario's ``Config`` subclasses it and adds (or re-declares with other defaults) its own fields;
    :func:`task_config` and :func:`train_config` turn it into the model's configs.
    """

    K: int = field(512, low=1, doc="classes")
    L: int = field(32, low=2, doc="labels")
    N: int = field(8, low=1, doc="item-label pairs per context")
    D: int = field(63, low=1, doc="content dimension")
    N_max: int = field(32, low=1, doc="position slots are 2 N_max + 1")
    eps: float = field(0.1, low=0.0, doc="within-class noise")
    lr: float = field(0.01, low=0.0, doc="SGD learning rate")
    batch_size: int = field(128, low=1, doc="sequences per step")
    weight_decay: float = field(1e-6, low=0.0, doc="multiplicative weight decay per step")
    n_test: int = field(10_000, low=1, doc="sequences per test set")
    eval_chunk: int = field(1000, low=1, doc="test sequences per forward pass")
    n_seeds: int = field(6, low=1, doc="seeds (trained at once under jax.vmap)")


def _shared_fields(cls: type, cfg: Any) -> dict[str, Any]:
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cls) if hasattr(cfg, f.name)}


def task_config(cfg: Any, **overrides: Any) -> TaskConfig:
    """A :class:`TaskConfig` from the same-named fields of ``cfg`` (a scenario config), then ``overrides``.

    Example:
      >>> task_config(ScenarioConfig(K=64, L=8, N=4), B=2).K
      64
    """
    return TaskConfig(**{**_shared_fields(TaskConfig, cfg), **overrides})


def train_config(cfg: Any, **overrides: Any) -> TrainConfig:
    """A :class:`TrainConfig` from the same-named fields of ``cfg`` (a scenario config), then ``overrides``.

    Example:
      >>> train_config(ScenarioConfig(lr=0.1), num_steps=10).lr
      0.1
    """
    return TrainConfig(**{**_shared_fields(TrainConfig, cfg), **overrides})


# A few steps with tiny batches and test sets: smoke runs of a scenario built on this model (its tests,
# examples), e.g. ``dataclasses.replace(PRESETS["quick"], **SMOKE)``.
SMOKE = {"num_steps": 4, "log_every": 2, "n_test": 16, "eval_chunk": 16, "n_seeds": 1, "batch_size": 8}


class World(NamedTuple):
    """The fixed part of a task instance: class means ``[K, D]`` and label vectors ``[L, D]``."""

    class_means: jax.Array
    label_vecs: jax.Array


class ForgetSchedule(NamedTuple):
    """Re-initialise the item embedding every ``reset_every`` steps while ``step < until``.

    ``reset_every = 0``: never (standard training); ``until < 0``: for the whole run (active forgetting);
    ``until > 0``: temporary forgetting. Fields may be traced arrays (vmapped conditions).
    """

    reset_every: Any = 0
    until: Any = -1


NO_FORGETTING = ForgetSchedule()


# ------------------------------------------------------------------------------------------------ the task
def make_world(key: jax.Array, cfg: TaskConfig) -> World:
    """Draws class means and label vectors, each entry ``N(0, 1/D)``."""
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
    """``(p_B, p_C, swap)`` of a mode: the training distribution or one of the test sets."""
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

    Returns:
      ``tokens [b, 2N+1, 2N_max+1+D]``, ``target [b]``, ``ctx_labels [b, N]``, ``token_ids [b, 2N+1]``
      (item tokens: class id, novel classes ``K + slot``; label tokens: ``K + N + label``) and
      ``query_class [b]`` (-1 for novel classes).

    Example:
      >>> import jax
      >>> task = TaskConfig(K=64, L=8, N=4, D=15, N_max=4, B=2)
      >>> w = make_world(jax.random.key(0), task)
      >>> b = sample_batch(jax.random.key(1), w, task, 5, mode="ic")
      >>> bool((b["query_class"] == -1).all())
      True
    """
    p_B, p_C, swap = mode_settings(cfg, mode)
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


# ------------------------------------------------------------------------------------------------ network
def init_params(key: jax.Array, task: TaskConfig, net: NetConfig = NetConfig()) -> dict[str, Any]:
    """Initial parameters (a dict pytree).

    ``Wq, Wk, Wv`` are ``N(0, init_scale^2)`` (default ``1/sqrt(D)``); classifier weights He-normal with zero
    biases (one per unit, or one per layer with ``shared_bias``); readout ``N(0, 1/width)``; the optional
    item embedding a random orthogonal ``D x D`` matrix.

    Example:
      >>> import jax
      >>> p = init_params(jax.random.key(0), TaskConfig(K=64, L=8, N=4, D=15, N_max=4))
      >>> p["attn"][0]["Wq"].shape, p["readout"].shape
      ((24, 24), (24, 8))
    """
    d = task.token_dim
    w = net.mlp_width or d
    s = net.init_scale or 1.0 / math.sqrt(task.D)
    attn = [
        {
            n: s * jax.random.normal(_draw_key(key, 100 + 3 * i + j), (d, d))
            for j, n in enumerate(("Wq", "Wk", "Wv"))
        }
        for i in range(net.n_layers)
    ]
    mlp = []
    d_in = d
    for j in range(net.mlp_layers):
        mlp.append(
            {
                "W": jax.random.normal(_draw_key(key, 200 + j), (d_in, w)) * math.sqrt(2.0 / d_in),
                "b": jnp.zeros((1,) if net.shared_bias else (w,)),
            }
        )
        d_in = w
    params: dict[str, Any] = {
        "attn": attn,
        "mlp": mlp,
        "readout": jax.random.normal(_draw_key(key, 300), (d_in, task.L)) / math.sqrt(d_in),
    }
    if net.item_embedding:
        params["item_embed"] = init_item_embedding(jax.random.fold_in(key, 400), task.D)
    return params


def init_item_embedding(key: jax.Array, D: int) -> jax.Array:
    """A random orthogonal ``D x D`` matrix (the item embedding's init and its forgetting resets)."""
    return jax.nn.initializers.orthogonal()(_draw_key(key, 500), (D, D), jnp.float32)


def embed(params: Mapping[str, Any], tokens: Float[Array, "b t d"], task: TaskConfig) -> jax.Array:
    """Applies the item embedding (if any) to the content of item tokens (even positions)."""
    if "item_embed" not in params:
        return tokens
    P = task.n_pos
    is_item = (jnp.arange(tokens.shape[1]) % 2 == 0)[None, :, None]
    content = tokens[..., P:]
    content = jnp.where(is_item, content @ params["item_embed"], content)
    return jnp.concatenate([tokens[..., :P], content], -1)


def forward(
    params: Mapping[str, Any],
    tokens: Float[Array, "b t d"],
    task: TaskConfig,
    net: NetConfig = NetConfig(),
    *,
    last_only: bool = False,
) -> Float[Array, "b L"]:
    """Label logits for the last token.

    Records ``"resid0"`` ... ``"resid{n_layers}"`` (residual stream) and ``"mlp_out"`` with
    :func:`cogsim.probes.record`; attention calls are named ``"layer0"``, ``"layer1"``, ...

    The query, key and value projections of a layer are one matrix product with ``[Wq | Wk | Wv]``. With
    ``last_only`` the last layer computes only the last token's query (the only row the classifier reads):
    the same logits with less work (training uses it); its attention call and ``resid{n_layers}`` then hold
    that one row.

    Example:
      >>> import jax
      >>> task = TaskConfig(K=64, L=8, N=4, D=15, N_max=4, B=2)
      >>> p = init_params(jax.random.key(0), task)
      >>> b = sample_batch(jax.random.key(1), make_world(jax.random.key(2), task), task, 3)
      >>> forward(p, b["tokens"], task).shape
      (3, 8)
    """
    impl = None if net.implementation == "auto" else net.implementation
    x = embed(params, tokens, task)
    probes.record("resid0", x)
    d = x.shape[-1]
    n = len(params["attn"])
    for i, layer in enumerate(params["attn"]):
        one_row = last_only and i == n - 1
        w = [layer["Wk"], layer["Wv"]] + ([] if one_row else [layer["Wq"]])
        kvq = x @ jnp.concatenate(w, 1)
        k, v = kvq[..., :d], kvq[..., d : 2 * d]
        q = x[:, -1:] @ layer["Wq"] if one_row else kvq[..., 2 * d :]
        out = _attention.dot_product_attention(
            q[:, :, None],
            k[:, :, None],
            v[:, :, None],
            is_causal=True,
            scale=1.0,
            implementation=impl,
            name=f"layer{i}",
        )
        x = (x[:, -1:] if one_row else x) + out[:, :, 0, :]
        probes.record(f"resid{i + 1}", x)
    h = x[:, -1]
    for layer in params["mlp"]:
        h = jax.nn.relu(h @ layer["W"] + layer["b"])
    probes.record("mlp_out", h)
    return h @ params["readout"]


def optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """SGD with the paper's multiplicative decay: ``p <- (1 - wd) p - lr * g``."""
    if cfg.lr == 0:
        return optax.sgd(0.0)
    return optax.chain(optax.add_decayed_weights(cfg.weight_decay / cfg.lr), optax.sgd(cfg.lr))


def make_loss_fn(task: TaskConfig, net: NetConfig = NetConfig()) -> Callable:
    """``loss_fn(params, batch, key) -> (loss, {"acc": ...})``: mean cross-entropy of the target label."""

    def loss_fn(params, batch, key):
        logits = forward(params, batch["tokens"], task, net, last_only=True)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["target"]).mean()
        acc = jnp.mean(jnp.argmax(logits, -1) == batch["target"])
        return loss, {"acc": acc}

    return loss_fn


def make_post_update(task: TaskConfig, schedule: ForgetSchedule) -> Callable:
    """``post_update(params, step, key)`` re-initialising the item embedding on the forgetting schedule.

    The reset happens after the update of step ``t`` when ``(t + 1) % reset_every == 0`` and (for temporary
    forgetting) ``t < until``.
    """

    def post_update(params, step, key):
        if "item_embed" not in params:
            return params
        every = jnp.asarray(schedule.reset_every)
        until = jnp.asarray(schedule.until)
        due = (every > 0) & ((step + 1) % jnp.maximum(every, 1) == 0) & ((until < 0) | (step < until))
        fresh = init_item_embedding(key, task.D)
        return {**params, "item_embed": jnp.where(due, fresh, params["item_embed"])}

    return post_update


# ------------------------------------------------------------------------------------------------ evaluation
def _progress(captured, batch, task: TaskConfig):
    """Previous-token score (layer 0, label rows) and induction score (last layer, query row)."""
    T = task.seq_len
    label_rows = jnp.arange(1, T - 1, 2)
    prev = probes.previous_token_score(captured["layer0"]["probs"], rows=label_rows)[0]
    last = f"layer{len([n for n in captured if n.startswith('layer')]) - 1}"
    ind = probes.induction_score(captured[last]["probs"], batch["token_ids"], rows=jnp.array([T - 1]))[0]
    return prev, ind


def evaluate(
    params: Mapping[str, Any],
    world: World,
    key: jax.Array,
    task: TaskConfig,
    net: NetConfig = NetConfig(),
    *,
    n_test: int = 2000,
    chunk: int = 1000,
    extra_sets: Mapping[str, tuple[str, jax.Array]] | None = None,
) -> dict[str, jax.Array]:
    """Test accuracies and progress measures (pure; the test sets are regenerated from ``key``).

    Returns a dict of scalars: ``ic_acc``, ``ic_loss``, ``ic2_acc`` (scored against the swapped label),
    ``iw_acc``, ``ctx_label_acc`` (IC predictions that are a label present in the context),
    ``ctx_label_mass`` (probability on context labels), ``prev_token`` (layer-0 attention from each label to
    its item), ``induction`` (last-layer attention from the query to labels of its class), plus
    ``{name}_acc`` for each ``extra_sets[name] = (mode, class_logits[, context_logits])`` (None: Zipf law).
    """
    n_chunks = max(1, -(-n_test // chunk))
    size = min(chunk, n_test)
    extra_sets = dict(extra_sets or {})
    names = ["ic", "ic2", "iw", *extra_sets]
    base = class_log_probs(task)
    settings = [(*mode_settings(task, m), base, base) for m in ("ic", "ic2", "iw")]
    for spec in extra_sets.values():
        mode, logits_q = spec[0], spec[1]
        logits_q = base if logits_q is None else logits_q
        logits_x = spec[2] if len(spec) > 2 and spec[2] is not None else logits_q
        settings.append((*mode_settings(task, mode), logits_q, logits_x))
    p_b, p_c, swap, logit_sets, ctx_sets = (
        jnp.stack([jnp.asarray(s[i], jnp.float32) for s in settings]) for i in range(5)
    )
    swap = swap.astype(jnp.int32)

    def one(c):
        kc = jax.random.fold_in(key, c)
        keys = jax.random.split(kc, len(names))
        sets = jax.vmap(lambda k, a, b, s, lg, lx: sample_sequences(k, world, task, size, a, b, s, lg, lx))(
            keys, p_b, p_c, swap, logit_sets, ctx_sets
        )
        fwd = lambda t: probes.run_with_capture(lambda x: forward(params, x, task, net), t)
        logits, cap = jax.vmap(fwd)(sets["tokens"])
        pred = jnp.argmax(logits, -1)
        correct = jnp.mean(pred == sets["target"], axis=-1)
        out = {f"{n}_acc": correct[i] for i, n in enumerate(names)}
        ic = jax.tree_util.tree_map(lambda x: x[0], sets)
        lg = logits[0]
        probs = jax.nn.softmax(lg, -1)
        in_ctx = jax.vmap(lambda lab: jnp.zeros(task.L, bool).at[lab].set(True))(ic["ctx_labels"])
        prev, ind = _progress(jax.tree_util.tree_map(lambda x: x[0], cap), ic, task)
        out.update(
            {
                "ic_loss": optax.softmax_cross_entropy_with_integer_labels(lg, ic["target"]).mean(),
                "ctx_label_acc": jnp.mean(jnp.take_along_axis(in_ctx, pred[0][:, None], 1)),
                "ctx_label_mass": jnp.mean(jnp.sum(probs * in_ctx, -1)),
                "prev_token": prev,
                "induction": ind,
            }
        )
        return out

    res = jax.lax.map(one, jnp.arange(n_chunks))
    return {k: jnp.mean(v) for k, v in res.items()}


# ------------------------------------------------------------------------------------------------ training
def run(
    key: jax.Array,
    task: TaskConfig,
    net: NetConfig = NetConfig(),
    tcfg: TrainConfig = TrainConfig(),
    *,
    schedule: ForgetSchedule = NO_FORGETTING,
    extra_sets: Callable[[TaskConfig], Mapping[str, tuple[str, jax.Array]]] | None = None,
    eval_task: TaskConfig | None = None,
) -> tuple[dict[str, Any], dict[str, jax.Array]]:
    """Trains one network; pure and jittable, so ``jax.vmap`` over ``key`` trains several seeds at once.

    Evaluates every ``tcfg.log_every`` steps (and at step 0) with :func:`evaluate`. The key splits into the
    world, the initial parameters, the training steps (``cogsim.train.run_steps``) and the test sets.

    Args:
      key: the run's key.
      task: the training distribution (traced ``eps``/``alpha``/``p_B``/``p_C`` allowed).
      net: the network.
      tcfg: optimiser and schedule of evaluation.
      schedule: item-embedding forgetting (needs ``net.item_embedding``).
      extra_sets: ``task -> {name: (mode, class_logits[, context_logits])}`` extra accuracies to log.
      eval_task: the task used for the test sets (default: ``task``).

    Returns:
      ``(params, history)``: history maps each metric (plus ``loss``, ``acc``: training means over the
      preceding window, and ``step``) to an array of ``num_steps // log_every + 1`` values.

    Example:
      >>> import jax
      >>> task = TaskConfig(K=64, L=8, N=4, D=15, N_max=4, B=2)
      >>> tc = TrainConfig(num_steps=20, log_every=10, batch_size=16, n_test=32, eval_chunk=32)
      >>> _, hist = jax.jit(lambda k: run(k, task, NetConfig(), tc))(jax.random.key(0))
      >>> hist["ic_acc"].shape
      (3,)
    """
    eval_task = task if eval_task is None else eval_task
    k_world, k_init, k_train, k_test = jax.random.split(key, 4)
    world = make_world(k_world, task)
    params = init_params(k_init, task, net)
    opt = optimizer(tcfg)
    update = _train.make_update(
        make_loss_fn(task, net),
        opt,
        batch_fn=lambda k, step: sample_batch(k, world, task, tcfg.batch_size),
        post_update=make_post_update(task, schedule) if net.item_embedding else None,
    )
    extras = extra_sets(eval_task) if extra_sets is not None else None
    ev = lambda p: evaluate(
        p, world, k_test, eval_task, net, n_test=tcfg.n_test, chunk=tcfg.eval_chunk, extra_sets=extras
    )
    n_logs = tcfg.num_steps // tcfg.log_every

    # One scan of n_logs + 1 iterations, each "evaluate, then train log_every steps", so that the evaluation
    # is traced (and compiled) once; the training of the last iteration is skipped by zero-length masking.
    def chunk(carry, i):
        state, last = carry
        row = ev(state.params)
        row.update({"loss": last[0], "acc": last[1]})
        new, m = _train.run_steps(update, state, k_train, tcfg.log_every)
        keep = i < n_logs
        state = jax.tree_util.tree_map(lambda a, b: jnp.where(keep, a, b), new, state)
        return (state, (jnp.mean(m["loss"]), jnp.mean(m["acc"]))), row

    nan = jnp.float32(jnp.nan)
    (state, _), hist = jax.lax.scan(chunk, (_train.init(params, opt), (nan, nan)), jnp.arange(n_logs + 1))
    hist["step"] = jnp.arange(n_logs + 1) * tcfg.log_every
    return state.params, hist


TRACEABLE = ("K", "B", "eps", "alpha", "p_B", "p_C")


def run_grid(
    key: jax.Array,
    task: TaskConfig,
    net: NetConfig = NetConfig(),
    tcfg: TrainConfig = TrainConfig(),
    *,
    grid: Mapping[str, Any],
    n_seeds: int,
    schedules: ForgetSchedule | None = None,
    extra_sets: Callable[[TaskConfig], Mapping[str, tuple[str, jax.Array]]] | None = None,
) -> dict[str, np.ndarray]:
    """Trains ``n_points x n_seeds`` networks in one compiled, doubly vmapped call of :func:`run`.

    Args:
      key: the root key; seed ``s`` uses ``fold_in(key, s)`` at every grid point (common random numbers:
        the same world, initialisation and batches across points, so differences are paired).
      task: the base task; grid values replace its fields.
      net, tcfg: network and training settings (shared by all points).
      grid: ``{field: values}`` with fields from :data:`TRACEABLE`, every list of length ``n_points``.
      n_seeds: seeds per point.
      schedules: per-point forgetting schedules (fields of length ``n_points``).
      extra_sets: see :func:`run`.

    Returns:
      the history of :func:`run` with leading axes ``[n_points, n_seeds]``, as NumPy arrays.

    Example:
      >>> task = TaskConfig(K=64, L=8, N=4, D=15, N_max=4, B=2)
      >>> tc = TrainConfig(num_steps=10, log_every=10, batch_size=8, n_test=16, eval_chunk=16)
      >>> h = run_grid(jax.random.key(0), task, NetConfig(), tc, grid={"eps": [0.1, 0.5]}, n_seeds=2)
      >>> h["ic_acc"].shape
      (2, 2, 2)
    """
    bad = [k for k in grid if k not in TRACEABLE]
    if bad:
        raise ConfigError(f"grid.{bad[0]}", grid[bad[0]], f"one of {list(TRACEABLE)}")
    lens = {len(v) for v in grid.values()}
    if len(lens) != 1:
        raise ConfigError("grid", {k: len(v) for k, v in grid.items()}, "value lists of one length")
    n_points = lens.pop()
    if "K" in grid and not task.K_max:
        task = dataclasses.replace(task, K_max=int(max(grid["K"])))
    from cogsim import config as _config

    for i in range(n_points):  # validate every point concretely (divisibility of B, K vs L, ...)
        _config.validate(
            dataclasses.replace(task, **{k: type(getattr(task, k))(v[i]) for k, v in grid.items()})
        )
    vals = {k: jnp.asarray(v, jnp.int32 if k in ("K", "B") else jnp.float32) for k, v in grid.items()}
    if schedules is None:
        schedules = ForgetSchedule(jnp.zeros(n_points, jnp.int32), -jnp.ones(n_points, jnp.int32))
    sched = ForgetSchedule(*(jnp.asarray(x, jnp.int32) for x in schedules))

    def one(point, sch, seed):
        t = dataclasses.replace(task, **point)
        return run(
            jax.random.fold_in(key, seed), t, net, tcfg, schedule=sch, extra_sets=extra_sets, eval_task=t
        )[1]

    f = jax.jit(jax.vmap(jax.vmap(one, (None, None, 0)), (0, 0, None)))
    out = f(vals, sched, jnp.arange(n_seeds))
    return {k: np.asarray(v) for k, v in out.items()}


def fit(
    task: TaskConfig,
    net: NetConfig = NetConfig(),
    tcfg: TrainConfig = TrainConfig(),
    *,
    key: jax.Array,
    schedule: ForgetSchedule = NO_FORGETTING,
    progress: bool | None = None,
    checkpoint_dir: str | None = None,
) -> _train.TrainResult:
    """One run through :func:`cogsim.train.fit` (progress bar, checkpoints), history as a DataFrame.

    Uses the same key derivation as :func:`run`, so both give the same training trajectory.

    Example:
      >>> import jax
      >>> task = TaskConfig(K=64, L=8, N=4, D=15, N_max=4, B=2)
      >>> tc = TrainConfig(num_steps=20, log_every=10, batch_size=16, n_test=32, eval_chunk=32)
      >>> res = fit(task, NetConfig(), tc, key=jax.random.key(0), progress=False)
      >>> list(res.history["step"])
      [10, 20]
    """
    k_world, k_init, k_train, k_test = jax.random.split(key, 4)
    world = make_world(k_world, task)
    params = init_params(k_init, task, net)
    return _train.fit(
        make_loss_fn(task, net),
        params,
        optimizer(tcfg),
        batch_fn=lambda k, step: sample_batch(k, world, task, tcfg.batch_size),
        key=k_train,
        num_steps=tcfg.num_steps,
        log_every=tcfg.log_every,
        eval_fn=lambda p, k: evaluate(p, world, k_test, task, net, n_test=tcfg.n_test, chunk=tcfg.eval_chunk),
        post_update=make_post_update(task, schedule) if net.item_embedding else None,
        checkpoint_dir=checkpoint_dir,
        progress=progress,
    )


def history_frame(hist: Mapping[str, Any], **labels: Any) -> pd.DataFrame:
    """A tidy DataFrame from a (possibly vmapped: leading seed axis) history of :func:`run`.

    Example:
      >>> history_frame({"step": np.arange(2), "ic_acc": np.ones((3, 2))}, B=1).shape
      (6, 4)
    """
    hist = {k: np.asarray(v) for k, v in hist.items()}
    step = hist.pop("step")
    if step.ndim > 1:
        step = step.reshape(-1, step.shape[-1])[0]
    any_v = next(iter(hist.values()))
    if any_v.ndim == 1:
        hist = {k: v[None] for k, v in hist.items()}
    n_seeds = next(iter(hist.values())).shape[0]
    rows = []
    for s in range(n_seeds):
        df = pd.DataFrame({k: v[s] for k, v in hist.items()})
        df.insert(0, "step", step)
        df.insert(0, "seed", s)
        rows.append(df)
    out = pd.concat(rows, ignore_index=True)
    for k, v in labels.items():
        out[k] = v
    return out


# ------------------------------------------------------------------------------------------- phenomenology
def phenomenological_loss(theta: Float[Array, "3"], *, N: int, L: int) -> jax.Array:
    """Three nested logits: ``p1 = sigmoid(beta1)``, ``p2 = e^(a p1) / (e^(a p1) + N - 1)``,
    ``loss = -log(e^(xi p2) / (e^(xi p2) + L - 1))`` with ``theta = (beta1, a, xi)``.

    Example:
      >>> round(float(phenomenological_loss(jnp.zeros(3), N=8, L=32)), 4) == round(math.log(32), 4)
      True
    """
    beta1, a, xi = theta[0], theta[1], theta[2]
    p1 = jax.nn.sigmoid(beta1)
    p2 = jnp.exp(a * p1) / (jnp.exp(a * p1) + N - 1)
    return -(xi * p2 - jnp.logaddexp(xi * p2, jnp.log(L - 1.0)))


def phenomenological_curve(
    theta0: Float[Array, "3"], lr: float, num_steps: int, *, N: int, L: int
) -> jax.Array:
    """Gradient descent on ``(beta1, a, xi)`` from ``theta0``; the loss before each of the ``num_steps + 1``
    steps."""
    g = jax.value_and_grad(lambda th: phenomenological_loss(th, N=N, L=L))

    def step(th, _):
        v, gr = g(th)
        return th - lr * gr, v

    th, losses = jax.lax.scan(step, jnp.asarray(theta0, jnp.float32), None, length=num_steps)
    return jnp.concatenate([losses, phenomenological_loss(th, N=N, L=L)[None]])


@dataclasses.dataclass(frozen=True)
class PhenoFit:
    """A fit of the phenomenological model to a measured loss curve."""

    beta1_0: float
    a_0: float
    xi_0: float
    lr: float
    rmse: float
    steps: np.ndarray
    fitted: np.ndarray


def fit_phenomenological(steps: Any, loss: Any, *, N: int, L: int, max_step: int | None = None) -> PhenoFit:
    """Least-squares fit of the three-logit model's loss curve to a measured curve (e.g. the IC loss).

    Free parameters: the initial ``beta1``, ``a``, ``xi`` and the learning rate (the time scale). The model's
    step ``t`` is matched to training step ``t``.

    Example:
      >>> c = np.asarray(phenomenological_curve(jnp.array([-2.0, 1.0, 1.0]), 0.5, 400, N=4, L=8))
      >>> f = fit_phenomenological(np.arange(0, 401, 20), c[::20], N=4, L=8)
      >>> f.rmse < 0.05
      True
    """
    from scipy import optimize

    steps = np.asarray(steps, int)
    loss = np.asarray(loss, float)
    ok = np.isfinite(loss)
    steps, loss = steps[ok], loss[ok]
    max_step = int(max_step or steps.max())
    # gradient flow integrated with at most 400 Euler steps of size lr * stride, read at the measured steps
    n_int = max(1, min(max_step, 400))
    stride = max_step / n_int
    times = jnp.arange(n_int + 1) * stride
    at = jnp.asarray(steps, jnp.float32)
    target = jnp.asarray(loss, jnp.float32)

    def model(z):
        th = jnp.stack([z[0], z[1], jnp.exp(z[2])])
        c = phenomenological_curve(th, jnp.exp(z[3]) * stride, n_int, N=N, L=L)
        return jnp.interp(at, times, c)

    def mse(z):
        v = jnp.mean((model(z) - target) ** 2)
        return jnp.where(jnp.isfinite(v), v, 1e6)

    # coarse random search over (beta1_0, a_0, log xi_0, log lr) in one vmapped call, then Nelder-Mead
    rng = np.random.default_rng(0)
    n_cand = 2048
    lo = np.array([-8.0, -1.0, math.log(1e-3), math.log(1e-4 * 1000.0 / max_step)])
    hi = np.array([2.0, 4.0, math.log(5.0), math.log(10.0 * 1000.0 / max_step)])
    cand = lo + (hi - lo) * rng.random((n_cand, 4))
    scores = np.asarray(jax.jit(jax.vmap(mse))(jnp.asarray(cand, jnp.float32)))
    mse_jit = jax.jit(mse)
    obj = lambda z: float(mse_jit(jnp.asarray(z, jnp.float32)))
    best = None
    for z0 in cand[np.argsort(scores)[:3]]:
        r = optimize.minimize(
            obj, z0, method="Nelder-Mead", options={"maxiter": 300, "xatol": 1e-3, "fatol": 1e-7}
        )
        if best is None or r.fun < best.fun:
            best = r
    z = best.x
    fitted = np.asarray(model(jnp.asarray(z, jnp.float32)), float)
    return PhenoFit(
        float(z[0]),
        float(z[1]),
        float(math.exp(z[2])),
        float(math.exp(z[3])),
        float(np.sqrt(np.mean((fitted - loss) ** 2))),
        steps,
        fitted,
    )


def jump_step(steps: Any, acc: Any, *, threshold: float) -> float:
    """First logged step at which ``acc`` reaches ``threshold`` (NaN if never).

    Example:
      >>> jump_step([0, 10, 20], [0.1, 0.5, 0.95], threshold=0.5)
      10.0
    """
    steps, acc = np.asarray(steps, float), np.asarray(acc, float)
    hit = np.nonzero(acc >= threshold)[0]
    return float(steps[hit[0]]) if hit.size else math.nan


Int_ = Int  # re-exported for type hints in scenarios
