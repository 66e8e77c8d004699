"""The layers of OAT: crop CNN, attention, feed-forward, encoder and decoder layers, pointer."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jaxtyping import Array, Float

from cogsim.attention import dot_product_attention
from cogsim.models.oat._config import NEG, OATConfig

_XAVIER = nnx.initializers.xavier_uniform()
_ZEROS = nnx.initializers.zeros_init()


def _linear(i: int, o: int, rngs: nnx.Rngs) -> nnx.Linear:
    return nnx.Linear(i, o, kernel_init=_XAVIER, bias_init=_ZEROS, rngs=rngs)


def _dropout(x, rate: float, key):
    if key is None or rate == 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


class _Keys:
    """Hands out fresh dropout keys from one key (None = deterministic)."""

    def __init__(self, key):
        self.key, self.i = key, 0

    def __call__(self):
        if self.key is None:
            return None
        self.i += 1
        return jax.random.fold_in(self.key, self.i)


def _conv_valid(x, kernel, bias):
    """'VALID' convolution as one matrix product over stacked shifted slices (im2col): on the CPU this is much
    faster than ``lax.conv`` for the few channels of the crop CNN, forwards and backwards."""
    kh, kw, cin, cout = kernel.shape
    h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    patches = jnp.concatenate([x[:, i : i + h, j : j + w, :] for i in range(kh) for j in range(kw)], axis=-1)
    return patches @ kernel.reshape(kh * kw * cin, cout) + bias


def _max_pool(x, p: int):
    """Non-overlapping ``p x p`` max-pool (floor mode, like ``torch.nn.MaxPool2d(p)``)."""
    n, h, w, c = x.shape
    x = x[:, : h // p * p, : w // p * p, :].reshape(n, h // p, p, w // p, p, c)
    return x.max(axis=(2, 4))


class CropCNN(nnx.Module):
    """The published appearance CNN: conv 3->16 5x5, ReLU, max-pool; conv 16->32 3x3, ReLU, max-pool;
    linear."""

    def __init__(self, height: int, width: int, pools: tuple[int, int], d_out: int, *, rngs: nnx.Rngs):
        self.pools = tuple(pools)
        self.k1 = nnx.Param(_XAVIER(rngs.params(), (5, 5, 3, 16)))
        self.b1 = nnx.Param(jnp.zeros((16,)))
        self.k2 = nnx.Param(_XAVIER(rngs.params(), (3, 3, 16, 32)))
        self.b2 = nnx.Param(jnp.zeros((32,)))
        h = ((height - 4) // pools[0] - 2) // pools[1]
        w = ((width - 4) // pools[0] - 2) // pools[1]
        self.fc = _linear(32 * h * w, d_out, rngs)

    def __call__(self, crops: Float[Array, "... h w 3"]) -> Float[Array, "... d"]:
        lead = crops.shape[:-3]
        x = crops.reshape((-1, *crops.shape[-3:])) - 0.5  # centred pixel values
        p1, p2 = self.pools
        x = _max_pool(jax.nn.relu(_conv_valid(x, self.k1[...], self.b1[...])), p1)
        x = _max_pool(jax.nn.relu(_conv_valid(x, self.k2[...], self.b2[...])), p2)
        return self.fc(x.reshape(x.shape[0], -1)).reshape((*lead, -1))


class _MHA(nnx.Module):
    def __init__(self, d: int, heads: int, *, rngs: nnx.Rngs):
        self.heads = heads
        self.q, self.k, self.v, self.o = (_linear(d, d, rngs) for _ in range(4))

    def split(self, x):
        return x.reshape(*x.shape[:-1], self.heads, x.shape[-1] // self.heads)

    def kv(self, x):
        return self.split(self.k(x)), self.split(self.v(x))

    def attend(self, xq, k, v, *, name: str, mask=None, is_causal: bool = False):
        out = dot_product_attention(self.split(self.q(xq)), k, v, mask=mask, is_causal=is_causal, name=name)
        return self.o(out.reshape(*out.shape[:-2], -1))


class _FF(nnx.Module):
    def __init__(self, d: int, d_ff: int, *, rngs: nnx.Rngs):
        self.l1, self.l2 = _linear(d, d_ff, rngs), _linear(d_ff, d, rngs)

    def __call__(self, x, rate, keys):
        return self.l2(_dropout(jax.nn.relu(self.l1(x)), rate, keys()))


class _EncoderLayer(nnx.Module):
    def __init__(self, c: OATConfig, *, rngs: nnx.Rngs):
        self.attn = _MHA(c.d_model, c.n_heads, rngs=rngs)
        self.ff = _FF(c.d_model, c.d_ff, rngs=rngs)
        self.n1 = nnx.LayerNorm(c.d_model, epsilon=1e-5, rngs=rngs)
        self.n2 = nnx.LayerNorm(c.d_model, epsilon=1e-5, rngs=rngs)

    def __call__(self, x, *, rate, keys, name):
        k, v = self.attn.kv(x)
        x = self.n1(x + _dropout(self.attn.attend(x, k, v, name=f"{name}.self"), rate, keys()))
        return self.n2(x + _dropout(self.ff(x, rate, keys), rate, keys()))


class _DecoderLayer(nnx.Module):
    def __init__(self, c: OATConfig, *, rngs: nnx.Rngs):
        self.self_attn = _MHA(c.d_model, c.n_heads, rngs=rngs)
        self.cross = _MHA(c.d_model, c.n_heads, rngs=rngs)
        self.ff = _FF(c.d_model, c.d_ff, rngs=rngs)
        self.n1 = nnx.LayerNorm(c.d_model, epsilon=1e-5, rngs=rngs)
        self.n2 = nnx.LayerNorm(c.d_model, epsilon=1e-5, rngs=rngs)
        self.n3 = nnx.LayerNorm(c.d_model, epsilon=1e-5, rngs=rngs)

    def _rest(self, x, mem_kv, *, rate, keys, name):
        x = self.n2(x + _dropout(self.cross.attend(x, *mem_kv, name=f"{name}.cross"), rate, keys()))
        return self.n3(x + _dropout(self.ff(x, rate, keys), rate, keys()))

    def __call__(self, x, mem_kv, *, rate, keys, name):
        k, v = self.self_attn.kv(x)
        x = self.n1(
            x + _dropout(self.self_attn.attend(x, k, v, is_causal=True, name=f"{name}.self"), rate, keys())
        )
        return self._rest(x, mem_kv, rate=rate, keys=keys, name=name)

    def step(self, x, cache_k, cache_v, t, mem_kv, *, name, window: int | None = None):
        """Position ``t`` of ``S`` scanpaths per display (x: ``[B, S, d]``) against the cached keys/values
        (``[B * S, heads, head_dim, max_len]``) of positions < t; only the first ``window`` positions are read
        (all when None; ``t`` must be below it).

        Self-attention runs per scanpath (batch ``B * S``, one query each). Cross-attention and the pointer
        see the ``S`` scanpaths of a display as ``S`` queries against that display's memory, so the memory
        is neither copied nor re-read per sample.
        """
        b, s, dm = x.shape
        xs = x.reshape(b * s, 1, dm)
        k, v = self.self_attn.kv(xs)  # [B * S, 1, heads, head_dim]
        # The caches are stored [B * S, heads, head_dim, max_len], the layout XLA's CPU dot wants; in the
        # [batch, seq, heads, head_dim] layout it would copy (transpose) the whole cache at every step.
        cache_k = jax.lax.dynamic_update_slice_in_dim(cache_k, jnp.moveaxis(k, 1, 3), t, axis=3)
        cache_v = jax.lax.dynamic_update_slice_in_dim(cache_v, jnp.moveaxis(v, 1, 3), t, axis=3)
        w = cache_k.shape[3] if window is None else window
        mask = (jnp.arange(w) <= t)[None, None, None, :]
        k_all, v_all = jnp.moveaxis(cache_k[..., :w], 3, 1), jnp.moveaxis(cache_v[..., :w], 3, 1)
        h = self.self_attn.attend(xs, k_all, v_all, mask=mask, name=f"{name}.self")
        x = self.n1(x + h.reshape(b, s, dm))
        return self._rest(x, mem_kv, rate=0.0, keys=_Keys(None), name=name), cache_k, cache_v


class _Pointer(nnx.Module):
    def __init__(self, c: OATConfig, *, rngs: nnx.Rngs):
        self.enc = nnx.List([_linear(c.d_model, c.d_model, rngs) for _ in range(c.pointer_heads)])
        self.dec = nnx.List([_linear(c.d_model, c.d_model, rngs) for _ in range(c.pointer_heads)])
        self.readout = _linear(c.pointer_heads, 1, rngs)
        self.scale = 1.0 / math.sqrt(c.pointer_dk)

    def project(self, memory):
        return jnp.stack([f(memory) for f in self.enc], axis=-1)  # [B, N+1, d, H]

    def __call__(self, enc_proj, dec):
        d = jnp.stack([f(dec) for f in self.dec], axis=-1)  # [B, T, d, H]
        s = jnp.einsum("bndh,btdh->btnh", enc_proj, d)
        s = jnp.concatenate([s, jnp.zeros_like(s[:, :, :1])], axis=2) * self.scale  # + PAD slot
        return self.readout(s)[..., 0]  # [B, T, N+2]


def sinusoid(n: int, d: int) -> np.ndarray:
    """The 1-D sinusoidal code of positions ``0..n-1`` (sin on even, cos on odd channels)."""
    den = np.exp(-np.arange(0, d, 2) * math.log(10000.0) / d)
    pos = np.arange(n)[:, None]
    pe = np.zeros((n, d), np.float32)
    pe[:, 0::2] = np.sin(pos * den)
    pe[:, 1::2] = np.cos(pos * den)[:, : d // 2]
    return pe


def pointer_mask(logits: Float[Array, "... n2"], step: Any) -> Float[Array, "... n2"]:
    """Masks PAD (last slot) always and EOS (slot ``N``) where ``step == 0``.

    Args:
      logits: ``[..., N + 2]`` pointer logits (objects, EOS = target token, PAD).
      step: the decoding step (0 = first fixation), broadcastable to ``logits.shape[:-1]``.
    """
    n2 = logits.shape[-1]
    slot = jnp.arange(n2)
    is_pad = slot == n2 - 1
    is_eos = slot == n2 - 2
    first = jnp.asarray(step)[..., None] == 0
    return jnp.where(is_pad | (is_eos & first), NEG, logits)
