"""The attention-only network: two causal single-head layers with residuals, then a ReLU classifier.

``u <- u + softmax((u Wq)(u Wk)^T) u Wv`` (no ``1/sqrt(d)`` scaling, as in the original), through
:func:`cogsim.attention.dot_product_attention` with names ``"induction.layer0"``, ``"induction.layer1"``, ...
Optionally a learned ``D x D`` *item embedding* multiplies the content of item tokens (not label tokens).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from cogsim import attention, probes
from cogsim import config as cfglib
from cogsim.tasks.reddy_sequences import TaskConfig


def _draw_key(key: jax.Array, salt: int) -> jax.Array:
    """The key of one bulk draw of initial weights: ``fold_in(key, salt)`` (vmap-consistent, as the task's
    draws)."""
    return jax.random.fold_in(key, salt)


@dataclasses.dataclass(frozen=True)
class NetConfig:
    """The attention-only network."""

    n_layers: int = cfglib.field(2, low=1, doc="attention layers")
    mlp_layers: int = cfglib.field(3, low=0, doc="ReLU layers of the classifier")
    mlp_width: int = cfglib.field(0, low=0, doc="classifier width (0 = the token dimension)")
    init_scale: float = cfglib.field(0.0, low=0.0, doc="std of Wq, Wk, Wv at init (0 = 1/sqrt(D))")
    shared_bias: bool = cfglib.field(
        False, doc="one bias per classifier layer, as the original code (False: one per unit)"
    )
    item_embedding: bool = cfglib.field(False, doc="learned D x D embedding of item contents")
    implementation: str = cfglib.field(
        "xla",
        choices=("xla", "pallas", "interpret", "auto"),
        doc="attention implementation (auto = Pallas on GPU)",
    )


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

    Records ``"induction.resid0"`` ... ``"induction.resid{n_layers}"`` (residual stream) and
    ``"induction.mlp_out"`` with :func:`cogsim.probes.record`; attention calls are named
    ``"induction.layer0"``, ``"induction.layer1"``, ...

    The query, key and value projections of a layer are one matrix product with ``[Wq | Wk | Wv]``. With
    ``last_only`` the last layer computes only the last token's query (the only row the classifier reads):
    the same logits with less work (training uses it); its attention call and ``induction.resid{n_layers}``
    then hold that one row.

    Example:
      >>> import jax
      >>> task = TaskConfig(K=64, L=8, N=4, D=15, N_max=4, B=2)
      >>> p = init_params(jax.random.key(0), task)
      >>> from cogsim.tasks.reddy_sequences import make_world, sample_batch
      >>> world = make_world(jax.random.key(2), task)
      >>> b = jax.jit(lambda k: sample_batch(k, world, task, 3))(jax.random.key(1))  # compiled once
      >>> jax.jit(lambda p, tokens: forward(p, tokens, task))(p, b["tokens"]).shape
      (3, 8)
    """
    impl = None if net.implementation == "auto" else net.implementation
    x = embed(params, tokens, task)
    probes.record("induction.resid0", x)
    d = x.shape[-1]
    n = len(params["attn"])
    for i, layer in enumerate(params["attn"]):
        one_row = last_only and i == n - 1
        w = [layer["Wk"], layer["Wv"]] + ([] if one_row else [layer["Wq"]])
        kvq = x @ jnp.concatenate(w, 1)
        k, v = kvq[..., :d], kvq[..., d : 2 * d]
        q = x[:, -1:] @ layer["Wq"] if one_row else kvq[..., 2 * d :]
        out = attention.dot_product_attention(
            q[:, :, None],
            k[:, :, None],
            v[:, :, None],
            is_causal=True,
            scale=1.0,
            implementation=impl,
            name=f"induction.layer{i}",
        )
        x = (x[:, -1:] if one_row else x) + out[:, :, 0, :]
        probes.record(f"induction.resid{i + 1}", x)
    h = x[:, -1]
    for layer in params["mlp"]:
        h = jax.nn.relu(h @ layer["W"] + layer["b"])
    probes.record("induction.mlp_out", h)
    return h @ params["readout"]
