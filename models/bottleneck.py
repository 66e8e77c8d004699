"""Consciousness-prior bottleneck and shared global workspace (Bengio 2017; Goyal et al. 2021, 2022).

A representation RNN keeps ``n_slots`` slot states ``h_t^i`` (one GRU shared by every slot, each slot with its
own identity embedding). At every step a *conscious state* of ``top_k`` elements is chosen from the slots by
attention: a query made from the previous conscious state (and an optional context such as a task cue) scores
every slot, Gumbel noise of scale ``noise`` is added to the scores, and only the ``top_k`` best slots enter
(:func:`select`, built on :func:`cogsim.kernels.topk_attention`). The chosen elements are then broadcast back:
every slot reads the workspace with attention (:func:`cogsim.attention.dot_product_attention`). A verifier
predicts, from the conscious state at ``t``, the next-step states of the slots it selected (InfoNCE over the
batch, which is also the anti-collapse term on the slot states).

Variants (``BottleneckConfig.variant``):

- ``"bottleneck"``: the consciousness prior above (one query, ``top_k`` elements).
- ``"workspace"``: the shared global workspace: ``n_workspace`` memory slots each write the ``top_k`` slots
  that win their competition, and every slot reads the memory back.
- ``"dense"``: the baseline without a bottleneck and with the same parameters: the query attends softly to
  every slot and every slot reads every slot (full attention).

Selection scores are cosine similarities times ``score_scale``, so ``noise`` is measured against a bounded
score range and a trained network cannot simply scale its scores past the noise.

Example:
  >>> import jax, jax.numpy as jnp
  >>> from flax import nnx
  >>> cfg = BottleneckConfig(n_slots=6, slot_dim=16, top_k=2)
  >>> ws = Workspace(cfg, in_features=3, context_features=4, rngs=nnx.Rngs(0))
  >>> trace = ws.unroll(jnp.ones((5, 4, 6, 3)), jnp.ones((5, 4, 4)), key=jax.random.key(1))
  >>> trace.slots.shape, trace.indices.shape
  ((5, 4, 6, 16), (5, 4, 1, 2))
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jaxtyping import Array, Bool, Float, Int

from cogsim import config as cfglib
from cogsim.attention import IMPLEMENTATIONS, dot_product_attention, topk_attention
from cogsim.errors import CogsimError, ConfigError

VARIANTS = ("bottleneck", "workspace", "dense")


@dataclasses.dataclass(frozen=True)
class BottleneckConfig:
    """Architecture of a :class:`Workspace`.

    ``top_k``, ``n_slots`` and ``noise`` are the capacity knobs that sweeps vary (``noise`` may also be given
    per call, as a traced array, so it can be vectorised).
    """

    variant: str = cfglib.field("bottleneck", choices=VARIANTS, doc="bottleneck, workspace or dense baseline")
    n_slots: int = cfglib.field(8, low=1, high=4096, doc="slots of the representation RNN")
    slot_dim: int = cfglib.field(32, low=2, high=4096, doc="width of each slot state")
    top_k: int = cfglib.field(3, low=1, high=256, doc="elements in the conscious state (per workspace slot)")
    noise: float = cfglib.field(0.5, low=0.0, high=100.0, doc="scale of the Gumbel noise on selection scores")
    n_workspace: int = cfglib.field(2, low=1, high=256, doc="memory slots of the shared workspace variant")
    score_scale: float = cfglib.field(4.0, low=0.0, high=1000.0, doc="scores = cosine similarity x this")
    verifier_weight: float = cfglib.field(0.1, low=0.0, high=100.0, doc="weight of the InfoNCE verifier loss")
    temperature: float = cfglib.field(0.1, low=1e-3, high=10.0, doc="InfoNCE temperature")
    implementation: str | None = cfglib.field(
        None, choices=IMPLEMENTATIONS, doc="top-k attention: Pallas kernel on GPU, jnp reference elsewhere"
    )

    def __post_validate__(self):
        if self.top_k > self.n_slots:
            raise ConfigError("top_k", self.top_k, f"an integer in [1, n_slots={self.n_slots}]")


# ------------------------------------------------------------------------------------------- selection
class Selection(NamedTuple):
    """The result of :func:`select`.

    Attributes:
      out: ``[batch, q_len, vdim]`` softmax mix of the selected values (the kernel's output).
      indices: ``[batch, q_len, top_k]`` selected slot indices, best first (-1 = unused place).
      mask: ``[batch, q_len, n]`` 1.0 on the selected slots.
      log_weights: ``[batch, q_len, n]`` log softmax weight of each selected slot among the selected (0
        elsewhere); differentiable, so a loss on it (or on ``out``) reaches the selected scores.
      bias: ``[batch, q_len, n]`` the additive score bias used (noise plus ``bias``), for soft relaxations.
    """

    out: jax.Array
    indices: jax.Array
    mask: jax.Array
    log_weights: jax.Array
    bias: jax.Array


def gumbel_bias(noise: float | jax.Array, gumbel: jax.Array) -> jax.Array:
    """``noise * gumbel`` with ``noise`` a scalar or one value per batch item (leading axis of ``gumbel``)."""
    noise = jnp.asarray(noise, jnp.float32)
    if noise.ndim == 1:
        noise = noise.reshape((-1,) + (1,) * (gumbel.ndim - 1))
    elif noise.ndim != 0:
        raise CogsimError(f"select: noise must be a scalar or [batch]; got shape {noise.shape}")
    return noise * gumbel


def select(
    q: Float[Array, "batch q_len dim"],
    k: Float[Array, "batch n dim"],
    v: Float[Array, "batch n vdim"],
    *,
    top_k: int,
    noise: float | Float[Array, " batch"],
    key: jax.Array | None = None,
    gumbel: Float[Array, "batch q_len n"] | None = None,
    mask: Bool[Array, "batch n"] | None = None,
    bias: Float[Array, "batch n"] | None = None,
    scale: float = 1.0,
    keep: int | Int[Array, " batch"] | None = None,
    implementation: str | None = None,
) -> Selection:
    """Noisy top-k selection: each query keeps the ``top_k`` slots with the best ``scale q.k + bias + noise``.

    The noise is Gumbel noise of scale ``noise`` (with ``noise = 1`` the selection is a sample without
    replacement from ``softmax(scale q.k + bias)``); ``noise = 0`` is the deterministic argmax.

    Args:
      q: queries ``[batch, q_len, dim]``.
      k: keys ``[batch, n, dim]``.
      v: values ``[batch, n, vdim]``; ``vdim`` may differ from ``dim`` (the attention kernels take values of
        the keys' shape: ``v`` is padded with zero columns to ``dim`` and ``out`` cut back, the same
        values; where ``vdim > dim``, ``q`` and ``k`` are padded with zero columns instead, the same
        scores up to float32 rounding).
      top_k: elements kept per query (static).
      noise: Gumbel noise scale >= 0, a scalar or one value per batch item (may be traced; a concrete
        negative value is refused).
      key: PRNG key of the noise (or give ``gumbel``; neither is needed where ``noise`` is a concrete 0).
      gumbel: standard Gumbel draws ``[batch, q_len, n]`` to use instead of ``key``.
      mask: True where a slot may be selected.
      bias: an extra additive score bias per slot (e.g. salience).
      scale: multiplies ``q.k``.
      keep: keep only the best ``keep <= top_k`` of the selection (an integer or one per batch item; may be
        traced, so a capacity can be swept under ``jax.vmap``); ``out`` is then the attention over the kept.
      implementation: see :func:`topk_attention`.

    Returns:
      A :class:`Selection`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> k = jnp.eye(4)[None]; q = jnp.array([[[0.0, 1.0, 1.0, 0.0]]])
      >>> s = select(q, k, k, top_k=2, noise=0.0, key=jax.random.key(0))
      >>> sorted(s.indices[0, 0].tolist()), s.mask[0, 0].tolist()
      ([1, 2], [0.0, 1.0, 1.0, 0.0])
    """
    ranks = (q.ndim, k.ndim, v.ndim) == (3, 3, 3)
    if not ranks or k.shape[:2] != v.shape[:2] or k.shape[0] != q.shape[0] or q.shape[2] != k.shape[2]:
        raise CogsimError(
            f"select: q [b, q, d], k [b, n, d], v [b, n, dv] expected; got {q.shape}, {k.shape}, {v.shape}"
        )
    b, nq, _ = q.shape
    n = k.shape[1]
    if not 1 <= top_k <= n:
        raise CogsimError(f"select: top_k={top_k} is not allowed; use an integer in [1, {n}] (slots)")
    concrete = _concrete(noise)
    if concrete is not None and not np.all(concrete >= 0):  # NaN refused too
        raise CogsimError(f"select: noise={noise!r} is not allowed; use a number >= 0 (0: the argmax)")
    if gumbel is None and key is None and (concrete is None or np.any(concrete)):
        raise CogsimError("select: give a PRNG key or gumbel draws for the selection noise (noise != 0)")
    if gumbel is None:  # without a key noise is 0: the deterministic argmax needs no draws
        gumbel = jnp.zeros((b, nq, n)) if key is None else jax.random.gumbel(key, (b, nq, n))
    full_bias = gumbel_bias(noise, gumbel)
    if bias is not None:
        full_bias = full_bias + bias[:, None, :]
    m4 = None if mask is None else mask[:, None, None, :]
    qp, kp, vp = _same_width(q, k, v)
    out, idx = topk_attention(
        qp[:, :, None],
        kp[:, :, None],
        vp[:, :, None],
        top_k=top_k,
        bias=full_bias[:, None],
        mask=m4,
        scale=scale,
        implementation=implementation,
    )
    idx = idx.reshape(b, nq, top_k)  # heads == 1
    if keep is not None:  # the kernel's indices come best first: keep a prefix of them
        keep = jnp.asarray(keep)
        keep = keep.reshape((-1, 1, 1)) if keep.ndim == 1 else keep
        idx = jnp.where(jnp.arange(top_k) < keep, idx, -1)
    chosen = selected_mask(idx, n)  # [b, q, n]
    if keep is not None:
        out = dot_product_attention(
            qp[:, :, None],
            kp[:, :, None],
            vp[:, :, None],
            bias=full_bias[:, None],
            mask=chosen[:, None] > 0,
            scale=scale,
            name="bottleneck.select_keep",
        )
    s = jnp.einsum("bqd,bnd->bqn", q, k) * scale + full_bias
    logw = jax.nn.log_softmax(jnp.where(chosen > 0, s, -1e30), axis=-1)
    out = out[:, :, 0] if vp is v else out[:, :, 0, : v.shape[-1]]
    return Selection(out, idx, chosen, jnp.where(chosen > 0, logw, 0.0), full_bias)


def _concrete(x) -> np.ndarray | None:
    """``x`` as a NumPy array where its value is known (not traced), else None."""
    try:
        return np.asarray(x, dtype=float)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError, TypeError):
        return None


def _same_width(q, k, v):
    """``q``, ``k``, ``v`` padded with zero columns to one width (the kernels take ``v`` of ``k``'s shape)."""
    pad = ((0, 0), (0, 0), (0, abs(v.shape[-1] - k.shape[-1])))
    if v.shape[-1] < k.shape[-1]:
        return q, k, jnp.pad(v, pad)  # its output columns unchanged
    return (jnp.pad(q, pad), jnp.pad(k, pad), v) if v.shape[-1] > k.shape[-1] else (q, k, v)


def selected_mask(indices: Int[Array, "*batch k"], n: int) -> jax.Array:
    """A 0/1 float mask over ``n`` slots of everything in ``indices`` (-1 ignored), reducing the last axis.

    Example:
      >>> selected_mask(jnp.array([[2, 0], [1, -1]]), 3).tolist()
      [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    return jnp.clip(jnp.sum(jax.nn.one_hot(indices, n), axis=-2), 0.0, 1.0)


def _unit(x: jax.Array) -> jax.Array:
    return x / jnp.sqrt(jnp.sum(x * x, axis=-1, keepdims=True) + 1e-6)


# ----------------------------------------------------------------------------------------------- model
class Step(NamedTuple):
    """One step of the workspace.

    Attributes:
      slots: ``[batch, n, dim]`` slot states after the broadcast.
      thought: ``[batch, dim]`` the conscious summary (query input of the next step).
      memory: ``[batch, m, dim]`` shared-workspace memory (``m = 0`` for the other variants).
      elements: ``[batch, e, dim]`` what the slots read back: slot values (``e = n``; only the selected ones
        are visible) or the shared memory (``e = m``).
      element_mask: ``[batch, e]`` which elements are visible.
      element_bias: ``[batch, e]`` log selection weight of each visible element (0 when unweighted).
      selected: ``[batch, n]`` 1.0 on the slots in the conscious state (all slots for the dense baseline).
      gate: ``[batch, n]`` equal to ``selected`` forward; backward it carries the gradient of the selection
        probabilities ``softmax(scores)`` (straight-through), so a head that predicts only for the selected
        slots (``gate * prediction``) teaches the selection which slots it needed.
      indices: ``[batch, q, k]`` selected slots, per query (``[batch, 1, n]`` for the dense baseline).
    """

    slots: jax.Array
    thought: jax.Array
    memory: jax.Array
    elements: jax.Array
    element_mask: jax.Array
    element_bias: jax.Array
    selected: jax.Array
    gate: jax.Array
    indices: jax.Array


class Workspace(nnx.Module):
    """Slots + noisy top-k conscious state + broadcast + verifier (see the module docstring).

    Args:
      cfg: the architecture.
      in_features: input features per slot and step.
      context_features: features of a global context per step (0 for none).
      rngs: parameter initialisation.
    """

    def __init__(self, cfg: BottleneckConfig, *, in_features: int, context_features: int = 0, rngs: nnx.Rngs):
        cfg = cfglib.validate(cfg)
        self.cfg = cfg
        d, n = cfg.slot_dim, cfg.n_slots
        self.slot_embed = nnx.Param(0.5 * jax.random.normal(rngs.params(), (n, d)))
        self.embed = nnx.Linear(in_features, d, rngs=rngs)
        self.context = nnx.Linear(max(context_features, 1), d, rngs=rngs)
        self.rnn = nnx.GRUCell(d, d, rngs=rngs)
        self.query = nnx.Linear(2 * d, d, rngs=rngs)
        self.key = nnx.Linear(d, d, rngs=rngs)
        self.value = nnx.Linear(d, d, rngs=rngs)
        self.read_q = nnx.Linear(d, d, rngs=rngs)
        self.read_k = nnx.Linear(d, d, rngs=rngs)
        self.read_v = nnx.Linear(d, d, rngs=rngs)
        self.read_out = nnx.Linear(d, d, rngs=rngs)
        self.predict = nnx.Linear(d, d, rngs=rngs)
        self.target = nnx.Linear(d, d, rngs=rngs)
        self.thought0 = nnx.Param(jnp.zeros((d,)))
        m = cfg.n_workspace if cfg.variant == "workspace" else 0
        self.memory0 = nnx.Param(0.5 * jax.random.normal(rngs.params(), (m, d)))

    @property
    def n_queries(self) -> int:
        """Queries competing for slots: ``n_workspace`` for the workspace variant, else 1."""
        return self.cfg.n_workspace if self.cfg.variant == "workspace" else 1

    def initial_state(self, batch: int) -> tuple[jax.Array, jax.Array, jax.Array]:
        """``(slots, thought, memory)`` at the start of a sequence."""
        d, n = self.cfg.slot_dim, self.cfg.n_slots
        mem = self.memory0[...]
        return (
            jnp.zeros((batch, n, d)),
            jnp.broadcast_to(self.thought0[...], (batch, d)),
            jnp.broadcast_to(mem, (batch, *mem.shape)),
        )

    def step(
        self,
        carry: tuple[jax.Array, jax.Array, jax.Array],
        x: Float[Array, "batch n features"],
        context: Float[Array, "batch context"] | None = None,
        *,
        key: jax.Array | None = None,
        gumbel: Float[Array, "batch q n"] | None = None,
        noise: float | jax.Array | None = None,
        top_k: int | None = None,
        keep: int | jax.Array | None = None,
        mask: Bool[Array, "batch n"] | None = None,
    ) -> Step:
        """One step: update the slots, select the conscious state, broadcast it.

        Args:
          carry: ``(slots, thought, memory)`` from :meth:`initial_state` or the previous :class:`Step`.
          x: per-slot input ``[batch, n, features]``.
          context: global context ``[batch, context]`` (task cue), or None.
          key: PRNG key of the selection noise (or give ``gumbel`` draws ``[batch, n_queries, n]``).
          gumbel: standard Gumbel draws for the selection.
          noise: overrides ``cfg.noise`` (scalar or ``[batch]``).
          top_k: overrides ``cfg.top_k``.
          keep: keep only the best ``keep`` selected slots (traced capacity; see :func:`select`).
          mask: slots that may be selected.
        """
        cfg = self.cfg
        noise = cfg.noise if noise is None else noise
        top_k = cfg.top_k if top_k is None else top_k
        h, thought, mem = carry
        b, n, _ = x.shape
        d = cfg.slot_dim
        u = self.embed(x) + self.slot_embed[...]
        ctx = self.context(context) if context is not None else jnp.zeros((b, d))
        u = u + ctx[:, None]
        h, _ = self.rnn(h.reshape(b * n, d), u.reshape(b * n, d))
        h = h.reshape(b, n, d)
        keys, vals = _unit(self.key(h)), self.value(h)
        if cfg.variant == "workspace":
            q = _unit(self.query(jnp.concatenate([mem, jnp.broadcast_to(ctx[:, None], mem.shape)], -1)))
        else:
            q = _unit(self.query(jnp.concatenate([thought, ctx], -1)))[:, None]
        visible = jnp.ones((b, n), bool) if mask is None else mask
        if cfg.variant == "dense":
            out = dot_product_attention(
                q[:, :, None],
                keys[:, :, None],
                vals[:, :, None],
                mask=visible[:, None, None, :],
                scale=cfg.score_scale,
                name="bottleneck.select",
            )
            thought = out[:, 0, 0]
            elements, el_mask, el_bias = vals, visible, jnp.zeros((b, n))
            selected = gate = visible.astype(jnp.float32)
            indices = jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32), (b, 1, n))
        else:
            sel = select(
                q,
                keys,
                vals,
                top_k=top_k,
                noise=noise,
                key=key,
                gumbel=gumbel,
                mask=mask,
                scale=cfg.score_scale,
                keep=keep,
                implementation=cfg.implementation,
            )
            indices = sel.indices
            selected = jnp.max(sel.mask, axis=1)
            out = sel.out
            s_all = jnp.einsum("bqd,bnd->bqn", q, keys) * cfg.score_scale + sel.bias
            p_all = jnp.sum(jax.nn.softmax(jnp.where(visible[:, None], s_all, -1e30), axis=-1), axis=1)
            gate = selected + p_all - jax.lax.stop_gradient(p_all)
            if cfg.variant == "workspace":
                mem = mem + out
                elements, el_mask, el_bias = mem, jnp.ones(mem.shape[:2], bool), jnp.zeros(mem.shape[:2])
                thought = jnp.mean(mem, axis=1)
            else:
                thought = out[:, 0]
                elements, el_mask, el_bias = vals, sel.mask[:, 0] > 0, sel.log_weights[:, 0]
        r = dot_product_attention(
            self.read_q(h)[:, :, None],
            self.read_k(elements)[:, :, None],
            self.read_v(elements)[:, :, None],
            bias=el_bias[:, None, None, :],
            mask=el_mask[:, None, None, :],
            name="bottleneck.broadcast",
        )
        h = h + self.read_out(r[:, :, 0])
        return Step(h, thought, mem, elements, el_mask, el_bias, selected, gate, indices)

    def unroll(
        self,
        xs: Float[Array, "batch time n features"],
        contexts: Float[Array, "batch time context"] | None = None,
        *,
        key: jax.Array,
        noise: float | jax.Array | None = None,
        top_k: int | None = None,
        keep: int | jax.Array | None = None,
        masks: Bool[Array, "batch time n"] | None = None,
    ) -> Step:
        """Runs :meth:`step` over the time axis (``lax.scan``); returns a :class:`Step`, time on axis 1."""
        b, steps, n = xs.shape[:3]
        gumbel = jax.random.gumbel(key, (steps, b, self.n_queries, n))
        seq = {"x": jnp.swapaxes(xs, 0, 1), "g": gumbel}
        if contexts is not None:
            seq["c"] = jnp.swapaxes(contexts, 0, 1)
        if masks is not None:
            seq["m"] = jnp.swapaxes(masks, 0, 1)

        def body(carry, inp):
            st = self.step(
                carry,
                inp["x"],
                inp.get("c"),
                gumbel=inp["g"],
                noise=noise,
                top_k=top_k,
                keep=keep,
                mask=inp.get("m"),
            )
            return (st.slots, st.thought, st.memory), st

        _, trace = jax.lax.scan(body, self.initial_state(b), seq)
        return Step(*(jnp.swapaxes(f, 0, 1) for f in trace))

    def verifier_loss(self, trace: Step) -> jax.Array:
        """InfoNCE: the conscious summary at ``t`` must pick out, among the batch, the ``t + 1`` states of the
        slots it selected at ``t`` (the other batch items are the negatives). 0 for a single step."""
        b, steps = trace.slots.shape[:2]
        if steps < 2:
            return jnp.zeros(())
        pred = _unit(self.predict(trace.thought[:, :-1]))  # [b, T-1, d]
        sel = trace.selected[:, :-1]  # [b, T-1, n]
        tgt = jnp.einsum("btn,btnd->btd", sel, trace.slots[:, 1:])
        tgt = _unit(self.target(tgt / jnp.maximum(sel.sum(-1, keepdims=True), 1.0)))
        logits = jnp.einsum("btd,ctd->tbc", pred, tgt) / self.cfg.temperature
        labels = jnp.broadcast_to(jnp.arange(b), logits.shape[:2])
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def compiler_options() -> dict[str, int] | None:
    """XLA options for jitting these small models: on the CPU, LLVM optimisation level 1.

    On the CPU the default level spends most of a training program's compile time in LLVM passes that do
    not make these small, dispatch-bound programs faster; level 1 compiles in about 60 % of the time.
    Elsewhere the defaults are kept (None).

    Example:
      >>> import jax
      >>> f = jax.jit(lambda x: x + 1, compiler_options=compiler_options())
    """
    return {"xla_backend_optimization_level": 1} if jax.default_backend() == "cpu" else None


def count_params(module: nnx.Module) -> int:
    """Number of trainable parameters.

    Example:
      >>> from flax import nnx
      >>> count_params(nnx.Linear(3, 2, rngs=nnx.Rngs(0)))
      8
    """
    return int(sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(nnx.state(module, nnx.Param))))


def precision_recall(
    selected: Float[Array, "*batch n"], relevant: Float[Array, "*batch n"]
) -> tuple[jax.Array, jax.Array]:
    """Per-item precision and recall of a 0/1 selection against a 0/1 set of relevant slots.

    Example:
      >>> p, r = precision_recall(jnp.array([1.0, 1.0, 0.0, 0.0]), jnp.array([1.0, 0.0, 1.0, 0.0]))
      >>> float(p), float(r)
      (0.5, 0.5)
    """
    hit = jnp.sum(selected * relevant, axis=-1)
    return hit / jnp.maximum(selected.sum(-1), 1.0), hit / jnp.maximum(relevant.sum(-1), 1.0)
