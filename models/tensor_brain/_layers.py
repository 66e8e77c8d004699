"""Operations of the four layers: bottom-up encoding, selection, top-down embodiment, working memory, the
sensory buffer, and the episodic and semantic contexts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from cogsim.attention import dot_product_attention
from cogsim.errors import CogsimError, ConfigError

from ._config import GROUPS, MODES, Params, TensorBrainConfig


def _group(params: Params, group: str) -> tuple[jax.Array, jax.Array]:
    if group not in GROUPS or group not in params:
        have = [g for g in GROUPS if g in params]
        raise CogsimError(f"tensor brain: index group {group!r} is not in this model; have {have}")
    return params[group], params[f"{group}_bias"]


def bottom_up(
    params: Params,
    cfg: TensorBrainConfig,
    q: Float[Array, "n dim"],
    group: str,
    *,
    dropout_key: jax.Array | None = None,
) -> tuple[Float[Array, "n indices"], Float[Array, "n dim"]]:
    """Bottom-up encoding: log P(Y = i | q) over one index group, and the integral ``sum_i P_i a_i``.

    Args:
      params: model parameters.
      cfg: the model config (``beta``, ``dropout``).
      q: ``[n, dim]`` representation-layer pre-activations.
      group: "entity", "predicate", "label" or "time".
      dropout_key: when given, dropout ``cfg.dropout`` is applied to sigmoid(q) (training).

    Returns:
      ``(log_probs [n, n_indices], integral [n, dim])``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from cogsim.models import tensor_brain as tb
      >>> cfg = TensorBrainConfig(n_entities=3, n_predicates=1, dim=4, wm_dim=4)
      >>> p = tb.init_params(cfg, key=jax.random.key(0))
      >>> logp, a_bar = bottom_up(p, cfg, jnp.zeros((2, 4)), "entity")
      >>> logp.shape, round(float(jnp.exp(logp).sum(-1)[0]), 4)
      ((2, 3), 1.0)
    """
    emb, bias = _group(params, group)
    gamma = jax.nn.sigmoid(q)
    if dropout_key is not None and (isinstance(cfg.dropout, jax.Array) or cfg.dropout > 0):  # traced: 0 ok
        keep = jax.random.bernoulli(dropout_key, 1.0 - cfg.dropout, gamma.shape)
        gamma = jnp.where(keep, gamma / (1.0 - cfg.dropout), 0.0)
    kv = emb[None, :, None, :]
    out, stats = dot_product_attention(
        gamma[None, :, None, :],
        kv,
        kv,
        bias=(cfg.beta * bias)[None, None, None, :],
        scale=cfg.beta,
        return_stats=True,
        name=f"tensor_brain.{group}",
    )
    scores = cfg.beta * (gamma @ emb.T + bias)
    log_probs = scores - stats.logsumexp[0, 0][:, None]
    return log_probs, out[0, :, 0, :]


def embody(q: Float[Array, "n dim"], a: Float[Array, "n dim"], cfg: TensorBrainConfig) -> jax.Array:
    """Top-down embodiment ``q <- r q + f a_k`` of a selected index's embedding.

    Example:
      >>> import jax.numpy as jnp
      >>> embody(jnp.ones((1, 2)), jnp.ones((1, 2)), TensorBrainConfig(retain=0.5, embody_gain=2.0)).tolist()
      [[2.5, 2.5]]
    """
    return cfg.retain * q + cfg.embody_gain * a


def wm_update(params: Params, h: Float[Array, "n wm"], q: Float[Array, "n dim"]) -> jax.Array:
    """Working memory ``h' = B sigmoid(sigmoid(h) + V sigmoid(q))``."""
    inner = jax.nn.sigmoid(h) + jax.nn.sigmoid(q) @ params["V"] + params["V_bias"]
    return jax.nn.sigmoid(inner) @ params["B"] + params["B_bias"]


def wm_readout(params: Params, h: Float[Array, "n wm"]) -> jax.Array:
    """The working memory's contribution to the next representation: ``W sigmoid(h)``."""
    return jax.nn.sigmoid(h) @ params["W"] + params["W_bias"]


def select(
    log_probs: Float[Array, "n indices"],
    emb: Float[Array, "indices dim"],
    integral: Float[Array, "n dim"],
    *,
    mode: str,
    key: jax.Array | None = None,
    teacher: Int[Array, " n"] | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Selects one index per row and returns ``(index [n], embedding to embody [n, dim])``.

    ``"integral"`` embodies the probability-weighted mean embedding and reports the argmax index.
    """
    if mode not in MODES:
        raise ConfigError("mode", mode, f"one of {list(MODES)}")
    if mode == "teacher":
        if teacher is None:
            raise CogsimError("tensor brain: mode='teacher' needs the teacher indices")
        idx = jnp.asarray(teacher)
    elif mode == "sample":
        if key is None:
            raise CogsimError("tensor brain: mode='sample' needs a key")
        idx = jax.random.categorical(key, log_probs, axis=-1)
    else:
        idx = jnp.argmax(log_probs, axis=-1)
    a = integral if mode == "integral" else emb[idx]
    return idx, a


def buffer_strength(t: Float[Array, "..."], *, onset: float = 0.0, offset: float, tau: float) -> jax.Array:
    """Strength of the sensory buffer at time ``t`` (seconds): 0 before ``onset``, 1 while the stimulus is
    shown, then ``exp(-(t - offset) / tau)`` after ``offset``.

    Example:
      >>> import jax.numpy as jnp
      >>> round(float(buffer_strength(jnp.asarray(0.35), offset=0.05, tau=0.3)), 4)  # exp(-1)
      0.3679
    """
    t = jnp.asarray(t, jnp.float32)
    return jnp.where(t < onset, 0.0, jnp.where(t <= offset, 1.0, jnp.exp(-(t - offset) / tau)))


def sensory_buffer(
    stimulus: Float[Array, "... dim"],
    t: Float[Array, "..."],
    *,
    onset: float = 0.0,
    offset: float,
    tau: float,
) -> jax.Array:
    """The decaying sensory buffer: ``stimulus * buffer_strength(t)`` (``t`` broadcasts over leading axes).

    Example:
      >>> import jax.numpy as jnp
      >>> [round(float(x), 3) for x in sensory_buffer(jnp.ones((2, 3)), jnp.asarray([0.0, 10.0]), offset=0.05,
      ...                                              tau=0.3).sum(-1)]
      [3.0, 0.0]
    """
    return jnp.asarray(stimulus) * buffer_strength(t, onset=onset, offset=offset, tau=tau)[..., None]


# -------------------------------------------------------------------------------------------- contexts
def episodic_context(params: Params, t: Int[Array, " n"]) -> jax.Array:
    """Episodic memory: the representation ``q = a_t`` of past time index ``t`` (``[n, dim]``)."""
    return params["time"][jnp.asarray(t)]


def semantic_context(params: Params, weights: Float[Array, " times"] | None = None) -> jax.Array:
    """Semantic memory: ``a_bar = sum_t P(t) a_t``, the time-marginalised representation (``[1, dim]``).

    ``weights`` is P(t) (uniform when None). With a single time index this is that index's embedding, the
    context of a purely semantic memory.
    """
    a = params["time"]
    w = jnp.full((a.shape[0],), 1.0 / a.shape[0]) if weights is None else jnp.asarray(weights)
    return (w @ a)[None, :]
