"""OAT: the object-level attention transformer for visual-search scanpaths (Fang et al., ECCV 2024).

A display is a set of ``N`` objects on a grid; a scanpath is the sequence of objects fixated. OAT encodes one
token per object plus one *target token*, and decodes the scanpath with a pointer over the encoder tokens:
pointing at the target token ends the scanpath (EOS).

- Object token = ``[appearance (d/2), position code (d/2)]``. The position code concatenates rows of a
  fixed table ``W`` (``K x ceil(d/6)``; ``K`` = grid extent) for the object's row, column and an
  ``is_target`` flag, truncated to ``d/2``. ``W`` is learned offline (:func:`learn_positional_table`) so that
  ``cos(W_i, W_j) = exp(-(i - j)^2 / (2 sigma^2))`` with ``sigma = 2``, with a penalty keeping the row norms
  equal (Adam, lr 0.01, 10,000 steps): neighbours at distance 0..5 have cosine 1, .883, .607, .325, .135,
  .044. In the encoder only the target token has ``is_target = 1``; in the decoder a fixation on the target
  object has it.
- Appearance is pluggable (``OATConfig.appearance``): ``"cnn"`` runs each object crop (pixels in [0, 1],
  centred by subtracting 0.5) through the published small CNN (conv 3->16 5x5, ReLU, max-pool; conv 16->32
  3x3, ReLU, max-pool; linear); ``"embedding"`` looks up a learned vector per appearance id (what is known
  without images, e.g. "a distractor cover" or "target cover k"); ``"none"`` leaves the appearance half
  zero, so the model sees layout and target position only.
- Decoder input: a BOS token (blank appearance at the grid centre), then the fixated objects, plus the usual
  1-D sinusoidal code of fixation order. Post-norm encoder and decoder layers (ReLU feed-forward, dropout)
  whose attention runs through :func:`cogsim.attention.dot_product_attention` (named
  ``oat.encoder.<i>.self``, ``oat.decoder.<i>.self``, ``oat.decoder.<i>.cross``).
- Pointer: ``pointer_heads`` scores ``(W_e e_i)^T (W_d d_t) / sqrt(pointer_dk)`` over the ``N + 1`` encoder
  tokens plus a constant PAD slot, mixed by a ``Linear(heads -> 1)``. Index ``N`` (the target token) is EOS,
  ``N + 1`` is PAD and ``N + 2`` BOS (as in the original code). PAD is masked out of every softmax, and EOS
  at the first step, so a scanpath has at least one fixation.
- Training: teacher-forced cross-entropy over the pointer (PAD targets ignored), Adam with gradient clipping,
  early stopping on the validation behaviour delta; scanpaths whose length lies outside mean +- 3 SD are
  dropped (:func:`length_filter`). Inference: greedy and sampled decoding with a key-value cache;
  :func:`sample` draws many scanpaths per display in one call: the display is encoded once, and at each step
  the samples of a display are the queries of one cross-attention and pointer call against its memory.

Differences from the PyTorch original: attention-probability dropout is not applied (residual and
feed-forward dropout are), the PAD slot is masked in training as it is in decoding, and crop pixels are
centred before the CNN.

Example:
  >>> import jax, numpy as np
  >>> from cogsim.models import oat
  >>> cfg = oat.OATConfig(n_rows=2, n_cols=3, d_model=16, n_heads=2, d_ff=16, n_encoder_layers=1,
  ...                     n_decoder_layers=1, appearance="none", pe_steps=200)
  >>> model = oat.OAT(cfg, key=jax.random.key(0))
  >>> disp = oat.grid_displays(np.array([4]), n_rows=2, n_cols=3)
  >>> paths = oat.greedy(model, disp, max_len=5)
  >>> len(paths[0]) >= 1
  True
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jaxtyping import Array, Float, Int

from cogsim import config as cfglib
from cogsim import train as trainlib
from cogsim._compare_scanpath import behaviour_delta, behaviour_vector
from cogsim.attention import dot_product_attention
from cogsim.errors import CogsimError
from cogsim.store import atomic_write_bytes, atomic_write_text

APPEARANCES = ("cnn", "embedding", "none")
NEG = -1e9
MAX_POSITIONS = 1024  # longest decodable scanpath


# ----------------------------------------------------------------------------------------------- config
@dataclasses.dataclass(frozen=True)
class OATConfig:
    """Architecture of an OAT model (defaults = the published sizes)."""

    n_rows: int = cfglib.field(6, low=1, high=1000, doc="grid rows")
    n_cols: int = cfglib.field(14, low=1, high=1000, doc="grid columns")
    d_model: int = cfglib.field(512, low=4, high=8192, doc="token width (half appearance, half position)")
    n_heads: int = cfglib.field(4, low=1, high=64, doc="attention heads")
    d_ff: int = cfglib.field(512, low=1, high=65536, doc="feed-forward width")
    n_encoder_layers: int = cfglib.field(4, low=1, high=48, doc="encoder layers")
    n_decoder_layers: int = cfglib.field(4, low=1, high=48, doc="decoder layers")
    dropout: float = cfglib.field(0.1, low=0.0, high=0.9, doc="dropout rate (residual and feed-forward)")
    pointer_heads: int = cfglib.field(2, low=1, high=16, doc="pointer (cross-attention) heads")
    pointer_dk: int = cfglib.field(512, low=1, high=65536, doc="pointer score scale sqrt(pointer_dk)")
    appearance: str = cfglib.field("embedding", choices=APPEARANCES, doc="appearance encoder")
    n_appearance: int = cfglib.field(
        8, low=1, high=100_000, doc="embedding: number of appearance ids (0 = blank)"
    )
    crop_height: int = cfglib.field(150, low=4, high=4096, doc="cnn: crop height in pixels")
    crop_width: int = cfglib.field(93, low=4, high=4096, doc="cnn: crop width in pixels")
    cnn_pool: tuple[int, int] = cfglib.field(
        (5, 3), low=1, high=64, doc="cnn: max-pool sizes of the two stages"
    )
    pe_sigma: float = cfglib.field(2.0, low=0.1, high=100.0, doc="positional code: Gaussian width (cells)")
    pe_steps: int = cfglib.field(10_000, low=1, high=1_000_000, doc="positional code: Adam steps")
    pe_lr: float = cfglib.field(0.01, low=1e-6, high=10.0, doc="positional code: Adam learning rate")
    pe_seed: int = cfglib.field(0, low=0, doc="positional code: seed of the random initial table")

    def __post_validate__(self):
        if self.d_model % 2:
            raise cfglib.ConfigError(
                "d_model", self.d_model, "an even number (half appearance, half position)"
            )
        if self.d_model % self.n_heads:
            raise cfglib.ConfigError("n_heads", self.n_heads, f"a divisor of d_model={self.d_model}")
        if self.appearance == "cnn":
            h1 = (self.crop_height - 4) // self.cnn_pool[0]
            w1 = (self.crop_width - 4) // self.cnn_pool[0]
            if (h1 - 2) // self.cnn_pool[1] < 1 or (w1 - 2) // self.cnn_pool[1] < 1:
                raise cfglib.ConfigError(
                    "crop_height",
                    (self.crop_height, self.crop_width),
                    f"crops large enough for the CNN with pools {self.cnn_pool}",
                )

    @property
    def d_position(self) -> int:
        return self.d_model - self.d_model // 2

    @property
    def pe_dim(self) -> int:
        """Width of one row of the position table: ceil(d_position / 3) (86 for d_model = 512)."""
        return -(-self.d_position // 3)

    @property
    def pe_rows(self) -> int:
        return max(self.n_rows, self.n_cols, 2)


# ----------------------------------------------------------------------------------- positional encoding
def gaussian_similarity(n: int, sigma: float) -> np.ndarray:
    """The target cosine matrix ``exp(-(i - j)^2 / (2 sigma^2))``.

    Example:
      >>> np.round(gaussian_similarity(3, 2.0)[0], 3)
      array([1.   , 0.882, 0.607])
    """
    d = np.arange(n)[:, None] - np.arange(n)[None, :]
    return np.exp(-(d.astype(float) ** 2) / (2 * sigma**2))


def _table_loss_and_grad(w: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """The published loss of the position table and its gradient (by hand; tested against jax.grad)."""
    n = len(w)
    r = np.linalg.norm(w, axis=1, keepdims=True)
    u = w / np.maximum(r, 1e-12)
    g = u @ u.T - target
    scale = 1.0 / (n * max(n - 1, 1))
    loss = (np.sum(g**2) + np.mean((r - r.mean()) ** 2)) * scale
    du = 4.0 * g @ u  # d/dU of sum((U U^T - T)^2), G symmetric
    dw = (du - np.sum(du * u, axis=1, keepdims=True) * u) / np.maximum(r, 1e-12)
    dw += 2.0 * (r - r.mean()) / n * u  # the variance of the row norms
    return float(loss), dw * scale


@functools.lru_cache(maxsize=32)
def _learn_table(n: int, dim: int, sigma: float, steps: int, lr: float, seed: int) -> np.ndarray:
    # Plain NumPy Adam (beta 0.9 / 0.999, eps 1e-8): no compilation, a fraction of a second for 10k steps.
    target = gaussian_similarity(n, sigma)
    w = np.random.default_rng(seed).standard_normal((n, dim))
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t in range(1, steps + 1):
        _, g = _table_loss_and_grad(w, target)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return w.astype(np.float32)


def learn_positional_table(
    n_positions: int, dim: int, *, sigma: float = 2.0, steps: int = 10_000, lr: float = 0.01, seed: int = 0
) -> np.ndarray:
    """Learns the ``n_positions x dim`` table whose row cosines follow a Gaussian of the index distance.

    The loss, as in the published ``positionalEncodingLearned.py``: the squared error between the cosine
    matrix of the rows and the Gaussian target, plus the variance of the row norms, divided by ``n (n - 1)``;
    Adam from a standard-normal table. Results are cached per argument set.

    Example:
      >>> w = learn_positional_table(14, 86, steps=3000)
      >>> np.round(neighbour_cosines(w, 2), 2)
      array([1.  , 0.88, 0.61])
    """
    if n_positions < 1 or dim < 1:
        raise CogsimError(f"learn_positional_table: n_positions={n_positions} and dim={dim} must be >= 1")
    return _learn_table(int(n_positions), int(dim), float(sigma), int(steps), float(lr), int(seed))


def neighbour_cosines(table: Float[np.ndarray, "n dim"], max_distance: int = 5) -> np.ndarray:
    """Mean cosine between rows ``i`` and ``i + d`` of ``table`` for ``d = 0..max_distance``."""
    w = np.asarray(table, float)
    wn = w / np.linalg.norm(w, axis=1, keepdims=True)
    sim = wn @ wn.T
    return np.array([np.mean(np.diag(sim, d)) for d in range(max_distance + 1)])


class PositionTable(nnx.Variable):
    """The fixed Gaussian-similarity position table (learned offline, not trained with the model)."""


# -------------------------------------------------------------------------------------------- displays
class Displays(NamedTuple):
    """A batch of displays (all with the same number of objects ``N``).

    Attributes:
      rows: ``[batch, N]`` grid row of each object.
      cols: ``[batch, N]`` grid column of each object.
      target: ``[batch]`` index (0..N-1) of the target object.
      appearance: ``[batch, N]`` int ids (``appearance="embedding"``; 0 is reserved for the blank BOS),
        ``[batch, N, H, W, 3]`` crops in [0, 1] (``"cnn"``), or None (``"none"``).
    """

    rows: Any
    cols: Any
    target: Any
    appearance: Any = None

    def take(self, idx) -> Displays:
        """The displays at ``idx`` (any index array)."""
        app = None if self.appearance is None else self.appearance[idx]
        return Displays(self.rows[idx], self.cols[idx], self.target[idx], app)


def grid_displays(
    targets: Int[np.ndarray, " batch"], *, n_rows: int, n_cols: int, appearance: Any = None
) -> Displays:
    """Displays with one object per cell of an ``n_rows x n_cols`` grid (row-major object indices).

    Example:
      >>> d = grid_displays(np.array([5]), n_rows=2, n_cols=3)
      >>> d.rows.tolist(), d.cols.tolist()
      ([[0, 0, 0, 1, 1, 1]], [[0, 1, 2, 0, 1, 2]])
    """
    t = np.asarray(targets, np.int32).reshape(-1)
    n = n_rows * n_cols
    if np.any((t < 0) | (t >= n)):
        raise CogsimError(
            f"grid_displays: targets must be in 0..{n - 1}; got {t[(t < 0) | (t >= n)][:5].tolist()}"
        )
    idx = np.arange(n, dtype=np.int32)
    rows = np.broadcast_to(idx // n_cols, (len(t), n)).copy()
    cols = np.broadcast_to(idx % n_cols, (len(t), n)).copy()
    return Displays(rows, cols, t, appearance)


def _as_jax(d: Displays) -> Displays:
    app = None if d.appearance is None else jnp.asarray(d.appearance)
    return Displays(
        jnp.asarray(d.rows, jnp.int32), jnp.asarray(d.cols, jnp.int32), jnp.asarray(d.target, jnp.int32), app
    )


# ------------------------------------------------------------------------------------------------ layers
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


# ------------------------------------------------------------------------------------------------- model
class OAT(nnx.Module):
    """The OAT encoder-decoder with a pointer head (see the module docstring).

    Args:
      config: the architecture.
      key: initialisation key (the position table uses ``config.pe_seed``).
    """

    def __init__(self, config: OATConfig, *, key: jax.Array):
        c = cfglib.validate(config)
        self.config = c
        rngs = nnx.Rngs(params=key)
        d_app = c.d_model // 2
        self.table = PositionTable(
            jnp.asarray(
                learn_positional_table(
                    c.pe_rows, c.pe_dim, sigma=c.pe_sigma, steps=c.pe_steps, lr=c.pe_lr, seed=c.pe_seed
                )
            )
        )
        if c.appearance == "cnn":
            self.cnn = CropCNN(c.crop_height, c.crop_width, c.cnn_pool, d_app, rngs=rngs)
        elif c.appearance == "embedding":
            self.embed = nnx.Embed(c.n_appearance, d_app, embedding_init=_XAVIER, rngs=rngs)
        self.encoder = nnx.List([_EncoderLayer(c, rngs=rngs) for _ in range(c.n_encoder_layers)])
        self.decoder = nnx.List([_DecoderLayer(c, rngs=rngs) for _ in range(c.n_decoder_layers)])
        self.pointer = _Pointer(c, rngs=rngs)

    # -- tokens --------------------------------------------------------------------------------------------
    def position_code(self, rows, cols, is_target):
        w = self.table[...]
        code = jnp.concatenate([w[rows], w[cols], w[is_target.astype(jnp.int32)]], axis=-1)
        return code[..., : self.config.d_position]

    def appearance_features(self, d: Displays):
        """``(object features [B, N, d/2], blank BOS feature [d/2])``."""
        c = self.config
        b, n = d.rows.shape
        if c.appearance == "cnn":
            if d.appearance is None or d.appearance.ndim != 5:
                raise CogsimError("OAT(appearance='cnn') needs Displays.appearance crops [batch, N, H, W, 3]")
            blank = self.cnn(jnp.ones((1, c.crop_height, c.crop_width, 3), jnp.float32))[0]
            return self.cnn(d.appearance.astype(jnp.float32)), blank
        if c.appearance == "embedding":
            if d.appearance is None or d.appearance.ndim != 2:
                raise CogsimError("OAT(appearance='embedding') needs Displays.appearance ids [batch, N]")
            return self.embed(d.appearance.astype(jnp.int32)), self.embed(jnp.zeros((), jnp.int32))
        zeros = jnp.zeros((b, n, c.d_model // 2), jnp.float32)
        return zeros, jnp.zeros((c.d_model // 2,), jnp.float32)

    def _token_features(self, app, blank, d: Displays, seq):
        """Decoder input tokens ``seq`` ``[B, T]`` (object ids or BOS) without the 1-D order code."""
        c = self.config
        n = d.rows.shape[1]
        is_obj = seq < n
        idx = jnp.clip(seq, 0, n - 1)
        a = jnp.take_along_axis(app, idx[..., None], axis=1)
        a = jnp.where(is_obj[..., None], a, blank)
        r = jnp.where(is_obj, jnp.take_along_axis(d.rows, idx, axis=1), c.n_rows // 2)
        col = jnp.where(is_obj, jnp.take_along_axis(d.cols, idx, axis=1), c.n_cols // 2)
        tgt = is_obj & (idx == d.target[:, None])
        return jnp.concatenate([a, self.position_code(r, col, tgt)], axis=-1)

    def _decoder_tokens(self, app, blank, d: Displays, seq):
        """Decoder input tokens ``seq`` ``[B, T]`` at fixation positions ``0..T-1``."""
        x = self._token_features(app, blank, d, seq)
        return x + jnp.asarray(sinusoid(seq.shape[1], self.config.d_model))[None]

    # -- encoder / decoder ---------------------------------------------------------------------------------
    def encode(self, d: Displays, *, key: jax.Array | None = None):
        """``(memory [B, N+1, d], object appearance [B, N, d/2], blank [d/2])``."""
        keys = _Keys(key)
        app, blank = self.appearance_features(d)
        zeros = jnp.zeros_like(d.rows, dtype=bool)
        obj = jnp.concatenate([app, self.position_code(d.rows, d.cols, zeros)], axis=-1)
        t_app = jnp.take_along_axis(app, d.target[:, None, None], axis=1)
        t_pos = self.position_code(
            jnp.take_along_axis(d.rows, d.target[:, None], axis=1),
            jnp.take_along_axis(d.cols, d.target[:, None], axis=1),
            jnp.ones((d.rows.shape[0], 1), bool),
        )
        x = jnp.concatenate([obj, jnp.concatenate([t_app, t_pos], axis=-1)], axis=1)
        for i, layer in enumerate(self.encoder):
            x = layer(x, rate=self.config.dropout, keys=keys, name=f"oat.encoder.{i}")
        return x, app, blank

    def __call__(self, d: Displays, seq_in: Int[Array, "batch T"], *, key: jax.Array | None = None):
        """Teacher-forced pointer logits ``[B, T, N + 2]`` (masked) for decoder inputs ``seq_in``."""
        keys = _Keys(key)
        memory, app, blank = self.encode(d, key=keys())
        x = _dropout(self._decoder_tokens(app, blank, d, seq_in), self.config.dropout, keys())
        for i, layer in enumerate(self.decoder):
            x = layer(x, layer.cross.kv(memory), rate=self.config.dropout, keys=keys, name=f"oat.decoder.{i}")
        logits = self.pointer(self.pointer.project(memory), x)
        return pointer_mask(logits, jnp.arange(seq_in.shape[1])[None, :])


# ------------------------------------------------------------------------------------------------- data
def special_tokens(n_objects: int) -> dict[str, int]:
    """The token codes: objects 0..N-1, ``eos`` = N (the target token), ``pad`` = N+1, ``bos`` = N+2."""
    return {"eos": n_objects, "pad": n_objects + 1, "bos": n_objects + 2}


def encode_scanpaths(scanpaths: Sequence[Sequence[int]], n_objects: int, length: int) -> np.ndarray:
    """``[S, length + 2]`` token arrays ``BOS, fixations..., EOS, PAD...`` (longer scanpaths are an error).

    Example:
      >>> encode_scanpaths([[3, 1]], n_objects=4, length=3).tolist()
      [[6, 3, 1, 4, 5]]
    """
    sp = special_tokens(n_objects)
    out = np.full((len(scanpaths), length + 2), sp["pad"], np.int32)
    out[:, 0] = sp["bos"]
    for i, s in enumerate(scanpaths):
        s = np.asarray(s, np.int64)
        if len(s) > length:
            raise CogsimError(f"encode_scanpaths: scanpath {i} has {len(s)} fixations; the limit is {length}")
        if s.size and (s.min() < 0 or s.max() >= n_objects):
            raise CogsimError(f"encode_scanpaths: scanpath {i} holds objects outside 0..{n_objects - 1}")
        out[i, 1 : 1 + len(s)] = s
        out[i, 1 + len(s)] = sp["eos"]
    return out


def length_filter(lengths: Sequence[int], n_sd: float = 3.0) -> np.ndarray:
    """Boolean mask of scanpaths whose length lies within mean +- ``n_sd`` SD (OAT's outlier filter).

    Example:
      >>> int(length_filter([10] * 20 + [1000]).sum())
      20
    """
    x = np.asarray(lengths, float)
    m, s = x.mean(), x.std(ddof=1) if len(x) > 1 else 0.0
    return (x >= m - n_sd * s) & (x <= m + n_sd * s)


def sequence_loss(model: OAT, d: Displays, seqs: Int[Array, "batch L"], *, key: jax.Array | None = None):
    """Mean teacher-forced cross-entropy over non-PAD targets, and the token accuracy.

    Args:
      model: the model.
      d: the displays of the batch.
      seqs: ``[B, L]`` tokens from :func:`encode_scanpaths` (BOS first).
      key: dropout key (None = no dropout).
    """
    seq_in, tgt = seqs[:, :-1], seqs[:, 1:]
    logits = model(d, seq_in, key=key)
    pad = d.rows.shape[1] + 1
    valid = tgt != pad
    logp = jax.nn.log_softmax(logits, axis=-1)
    nll = -jnp.take_along_axis(logp, jnp.where(valid, tgt, 0)[..., None], axis=-1)[..., 0]
    n = jnp.maximum(valid.sum(), 1)
    loss = jnp.sum(jnp.where(valid, nll, 0.0)) / n
    acc = jnp.sum(jnp.where(valid, jnp.argmax(logits, -1) == tgt, False)) / n
    return loss, {"accuracy": acc}


@functools.partial(jax.jit, static_argnames=("graphdef",))
def _logits_jit(graphdef, state, d, seq_in):
    return nnx.merge(graphdef, state)(d, seq_in)


@functools.partial(jax.jit, static_argnames=("graphdef",))
def _loss_jit(graphdef, state, d, seqs):
    return sequence_loss(nnx.merge(graphdef, state), d, seqs)


def teacher_forced_logits(model: OAT, displays: Displays, seq_in: Int[Array, "batch T"]) -> jax.Array:
    """Jitted :meth:`OAT.__call__` without dropout: masked pointer logits ``[B, T, N + 2]``."""
    graphdef, state = nnx.split(model)
    return _logits_jit(graphdef, state, _as_jax(displays), jnp.asarray(seq_in, jnp.int32))


def teacher_forced_loss(
    model: OAT, displays: Displays, seqs: Int[Array, "batch L"]
) -> tuple[jax.Array, dict]:
    """Jitted :func:`sequence_loss` without dropout: ``(mean NLL, {"accuracy": ...})``."""
    graphdef, state = nnx.split(model)
    return _loss_jit(graphdef, state, _as_jax(displays), jnp.asarray(seqs, jnp.int32))


# --------------------------------------------------------------------------------------------- decoding
def _context(model: OAT, d: Displays):
    """What each decoding step reads from a display: appearance, blank, cross keys/values, pointer keys."""
    memory, app, blank = model.encode(d)
    return app, blank, [layer.cross.kv(memory) for layer in model.decoder], model.pointer.project(memory)


@functools.partial(jax.jit, static_argnames=("graphdef", "max_len"))
def _start(graphdef, state, d: Displays, row_keys, *, max_len: int):
    """The display context and the initial decoding state of ``S`` scanpaths per display (``row_keys``:
    ``[S, B]``): ``(context, (t, caches, tokens [max_len, B, S], previous [B, S], done [B, S]),
    u [B, S, max_len])``. Scanpath ``(s, i)`` draws its ``max_len`` uniforms up front from ``row_keys[s, i]``,
    so its fixations do not depend on how many other scanpaths share a call."""
    model = nnx.merge(graphdef, state)
    c = model.config
    b, n = d.rows.shape
    n_s = row_keys.shape[0]
    sp = special_tokens(n)
    shape = (b * n_s, c.n_heads, c.d_model // c.n_heads, max_len)
    cache = [(jnp.zeros(shape), jnp.zeros(shape)) for _ in model.decoder]
    u = jax.vmap(jax.vmap(lambda k: jax.random.uniform(k, (max_len,))))(row_keys.T)  # [B, S, max_len]
    tokens = jnp.full((max_len, b, n_s), sp["pad"], jnp.int32)
    prev = jnp.full((b, n_s), sp["bos"], jnp.int32)
    done = jnp.zeros((b, n_s), bool)
    return _context(model, d), (jnp.asarray(0), cache, tokens, prev, done), u


@functools.partial(jax.jit, static_argnames=("graphdef", "t_end", "greedy"))
def _advance(graphdef, state, d: Displays, ctx, carry, u, *, t_end: int, greedy: bool):
    """Advances ``S`` scanpaths per display with their key-value caches until step ``t_end`` or until all have
    ended. At each step the ``S`` scanpaths of a display are ``S`` queries against that display's memory
    (see :meth:`_DecoderLayer.step`), and self-attention reads only the first ``t_end`` cached positions;
    sampling is inverse-CDF with the scanpath's own uniform for the step."""
    model = nnx.merge(graphdef, state)
    n = d.rows.shape[1]
    sp = special_tokens(n)
    app, blank, mem_kv, enc_proj = ctx
    max_len = u.shape[-1]
    order = jnp.asarray(sinusoid(max_len, model.config.d_model))

    def cond(carry):
        t, _, _, _, done = carry
        return (t < t_end) & ~jnp.all(done)

    def body(carry):
        t, cache, tokens, prev, done = carry
        x = model._token_features(app, blank, d, prev) + order[t]
        new_cache = []
        for i, layer in enumerate(model.decoder):
            x, ck, cv = layer.step(x, *cache[i], t, mem_kv[i], name=f"oat.decoder.{i}", window=t_end)
            new_cache.append((ck, cv))
        logits = pointer_mask(model.pointer(enc_proj, x), t)  # [B, S, N + 2]
        if greedy:
            nxt = jnp.argmax(logits, axis=-1)
        else:
            cdf = jnp.cumsum(jax.nn.softmax(logits, axis=-1), axis=-1)
            draw = jax.lax.dynamic_index_in_dim(u, t, axis=2, keepdims=True) * cdf[..., -1:]
            nxt = jnp.minimum(jnp.sum(cdf < draw, axis=-1), n)  # never PAD (its probability is 0)
        nxt = jnp.where(done, sp["pad"], nxt.astype(jnp.int32))
        tokens = jax.lax.dynamic_update_index_in_dim(tokens, nxt, t, axis=0)
        return t + 1, new_cache, tokens, nxt, done | (nxt == sp["eos"])

    return jax.lax.while_loop(cond, body, carry)


@jax.jit
def _compact(carry, u, sel):
    """Keeps, for every display, the scanpaths ``sel`` (``[B, S']`` indices into its ``S`` scanpaths, padded
    by repetition): the display's scanpaths stay queries against its memory, only fewer of them."""
    t, cache, tokens, prev, done = carry
    b, s_new = sel.shape
    along = lambda x, axis: jnp.take_along_axis(x, sel.reshape(sel.shape + (1,) * (x.ndim - 2)), axis=axis)

    def take_cache(x):
        x = x.reshape(b, x.shape[0] // b, *x.shape[1:])
        return along(x, 1).reshape(b * s_new, *x.shape[2:])

    tokens = jnp.moveaxis(along(jnp.moveaxis(tokens, 0, 2), 1), 2, 0)
    cache = jax.tree_util.tree_map(take_cache, cache)
    return (t, cache, tokens, along(prev, 1), along(done, 1)), along(u, 1)


def _decode(graphdef, state, d: Displays, row_keys, *, max_len: int, greedy: bool, compact_every: int = 12):
    """Decodes ``S`` scanpaths per display (``row_keys``: ``[S, B]``): ``[S, B, max_len]`` tokens.

    The encoder, the cross-attention keys/values and the pointer's projection of the memory are computed
    once per display; all ``B * S`` scanpaths advance together. Every ``compact_every`` steps the scanpaths
    that have ended are dropped from the batch (each display keeps its unfinished ones, padded to a power of
    two over displays), so that a few long scanpaths do not keep the whole batch stepping. Which scanpaths
    share a call changes no scanpath: each has its own uniforms, cache and state.
    """
    b, n_s = int(d.rows.shape[0]), int(row_keys.shape[0])
    ctx, carry, u = _start(graphdef, state, d, row_keys, max_len=max_len)
    out = np.full((b, n_s, max_len), special_tokens(int(d.rows.shape[1]))["pad"], np.int32)
    # [B, S'] sample index of each scanpath in the batch; -1: padding
    sample = np.tile(np.arange(n_s), (b, 1))
    disp = np.arange(b)[:, None]
    t_end = min(compact_every, max_len)
    while True:
        carry = _advance(graphdef, state, d, ctx, carry, u, t_end=t_end, greedy=greedy)
        tokens, done = np.asarray(carry[2]).transpose(1, 2, 0), np.asarray(carry[4])
        real = sample >= 0
        out[np.broadcast_to(disp, sample.shape)[real], sample[real]] = tokens[real]
        active = ~done & real
        width = int(active.sum(axis=1).max())
        if t_end >= max_len or width == 0:
            break
        width = 1 << (width - 1).bit_length()
        # per display: its unfinished scanpaths first, then padding that repeats its first scanpath
        order = np.argsort(~active, axis=1, kind="stable")[:, :width]
        keep = np.take_along_axis(active, order, axis=1)
        sel = np.where(keep, order, order[:, :1])
        carry, u = _compact(carry, u, jnp.asarray(sel))
        carry = (*carry[:4], carry[4] | jnp.asarray(~keep))  # padding neither steps nor writes back
        sample = np.where(keep, np.take_along_axis(sample, sel, axis=1), -1)
        t_end = min(t_end + compact_every, max_len)
    return out.transpose(1, 0, 2)


def _row_keys(key: jax.Array, n_samples: int, n_rows: int) -> jax.Array:
    """``[S, B]`` keys: sample ``s`` of display ``i`` uses ``fold_in(fold_in(key, s), i)``."""
    per = lambda s: jax.vmap(lambda i: jax.random.fold_in(jax.random.fold_in(key, s), i))(jnp.arange(n_rows))
    return jax.vmap(per)(jnp.arange(n_samples))


def tokens_to_scanpaths(tokens: Int[np.ndarray, "... L"], n_objects: int) -> list:
    """Cuts decoded token rows at EOS/PAD into lists of object indices (nested like ``tokens[..., 0]``)."""
    arr = np.asarray(tokens)
    if arr.ndim == 1:
        stop = np.nonzero(arr >= n_objects)[0]
        return arr[: stop[0] if len(stop) else len(arr)].tolist()
    return [tokens_to_scanpaths(a, n_objects) for a in arr]


def _padded(displays: Displays) -> tuple[Displays, int]:
    """Pads the display batch to a power of two (at least 16) by repeating the first display, so that batches
    of different sizes share one compiled decoder; returns the padded batch and the real size."""
    d = _as_jax(displays)
    b = int(d.rows.shape[0])
    size = max(16, 1 << (b - 1).bit_length())
    idx = jnp.concatenate([jnp.arange(b), jnp.zeros(size - b, jnp.int32)])
    return d.take(idx), b


def greedy(model: OAT, displays: Displays, *, max_len: int) -> list[list[int]]:
    """The most probable next object at every step: one scanpath per display (at most ``max_len`` fixations).

    Example:
      >>> # paths = greedy(model, displays, max_len=60)
    """
    if not 1 <= max_len <= MAX_POSITIONS - 1:
        raise CogsimError(f"oat.greedy: max_len={max_len}; allowed: 1..{MAX_POSITIONS - 1}")
    graphdef, state = nnx.split(model)
    d, b = _padded(displays)
    keys = _row_keys(jax.random.key(0), 1, int(d.rows.shape[0]))
    toks = _decode(graphdef, state, d, keys, max_len=int(max_len), greedy=True)
    return tokens_to_scanpaths(np.asarray(toks)[0, :b], d.rows.shape[1])


def sample(
    model: OAT,
    displays: Displays,
    *,
    key: jax.Array,
    n_samples: int,
    max_len: int,
    loop: str = "none",
    compact_every: int = 12,
) -> list[list[list[int]]]:
    """``n_samples`` sampled scanpaths per display: ``out[display][sample]`` (lists of object indices).

    Args:
      model: the model.
      displays: the displays.
      key: sample ``s`` uses ``fold_in(key, s)``.
      n_samples: scanpaths per display.
      max_len: the most fixations per scanpath.
      loop: ``"none"`` draws all samples of all displays in one call, batched over the samples (the default);
        for benchmarks, ``"samples"`` loops over the samples in Python (each call decodes all displays) and
        ``"scanpaths"`` decodes one scanpath per call, as the original code does. The draws are identical.
      compact_every: every this many steps, scanpaths that have ended are dropped from the batch (speed
        only: the draws do not change).
    """
    if not 1 <= max_len <= MAX_POSITIONS - 1:
        raise CogsimError(f"oat.sample: max_len={max_len}; allowed: 1..{MAX_POSITIONS - 1}")
    if n_samples < 1:
        raise CogsimError(f"oat.sample: n_samples={n_samples}; allowed: >= 1")
    if loop not in ("none", "samples", "scanpaths"):
        raise CogsimError(f"oat.sample: loop={loop!r}; allowed: 'none', 'samples', 'scanpaths'")
    graphdef, state = nnx.split(model)
    if compact_every < 1:
        raise CogsimError(f"oat.sample: compact_every={compact_every}; allowed: >= 1")
    run = functools.partial(
        _decode, graphdef, state, max_len=int(max_len), greedy=False, compact_every=int(compact_every)
    )
    if loop == "scanpaths":
        d = _as_jax(displays)
        b, n = int(d.rows.shape[0]), int(d.rows.shape[1])
        keys = _row_keys(key, n_samples, b)
        return [
            [
                tokens_to_scanpaths(
                    np.asarray(run(d.take(jnp.array([i])), keys[s : s + 1, i : i + 1]))[0, 0], n
                )
                for s in range(n_samples)
            ]
            for i in range(b)
        ]
    d, b = _padded(displays)
    keys = _row_keys(key, n_samples, int(d.rows.shape[0]))
    if loop == "samples":
        toks = np.concatenate([np.asarray(run(d, keys[s : s + 1])) for s in range(n_samples)])
    else:
        toks = np.asarray(run(d, keys))
    paths = tokens_to_scanpaths(toks[:, :b], d.rows.shape[1])  # [sample][display]
    return [[paths[s][i] for s in range(n_samples)] for i in range(b)]


# --------------------------------------------------------------------------------------------- training
@dataclasses.dataclass(frozen=True)
class TrainData:
    """Training scanpaths: displays (one row per display) and token sequences pointing at them.

    Attributes:
      displays: the displays ``[D, ...]``.
      seqs: ``[S, L]`` tokens from :func:`encode_scanpaths`.
      display_index: ``[S]`` display of each scanpath.
    """

    displays: Displays
    seqs: np.ndarray
    display_index: np.ndarray


@dataclasses.dataclass(frozen=True)
class FitResult:
    """The trained model (best validation epoch), the per-epoch history and the best epoch."""

    model: OAT
    history: list[dict[str, float]]
    best_epoch: int


def fit(
    model: OAT,
    data: TrainData,
    *,
    key: jax.Array,
    epochs: int,
    batch_size: int = 20,
    lr: float = 1e-4,
    clip: float = 1.0,
    validation: tuple[Displays, Sequence[Sequence[Sequence[int]]]] | None = None,
    patience: int = 30,
    max_len: int = 60,
    select: str = "delta",
    log: Callable[[str], None] | None = None,
) -> FitResult:
    """Trains with teacher forcing (Adam, gradient clipping) and early stopping on a validation score.

    Each epoch is one pass over a fresh permutation of the scanpaths (the last partial batch is dropped), run
    as one :func:`cogsim.train.run_steps` scan. With ``validation = (displays, human scanpaths per display)``
    two scores are logged after every epoch: ``val_delta``, the behaviour delta of the greedy scanpath of each
    display (the published criterion), and ``val_nll``, the teacher-forced cross-entropy of the held-out
    scanpaths. The epoch with the lowest ``select`` score ("delta" or "nll") is kept and training stops after
    ``patience`` epochs without improvement.

    Returns:
      :class:`FitResult`.
    """
    if select not in ("delta", "nll"):
        raise CogsimError(f"oat.fit: select={select!r} is not allowed; choose 'delta' or 'nll'")
    n = len(data.seqs)
    if n < batch_size:
        raise CogsimError(f"oat.fit: {n} training scanpaths, fewer than batch_size={batch_size}")
    spe = n // batch_size
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    disp = _as_jax(data.displays)
    seqs = jnp.asarray(data.seqs)
    didx = jnp.asarray(data.display_index, jnp.int32)
    perm_key = jax.random.fold_in(key, 1)

    def batch_fn(k, step):
        perm = jax.random.permutation(jax.random.fold_in(perm_key, step // spe), n)
        idx = jax.lax.dynamic_slice_in_dim(perm, (step % spe) * batch_size, batch_size)
        return disp.take(didx[idx]), seqs[idx]

    def loss_fn(p, batch, k):
        m = nnx.merge(graphdef, p, rest)
        return sequence_loss(m, batch[0], batch[1], key=k)

    opt = optax.chain(optax.clip_by_global_norm(clip), optax.adam(lr))
    update = trainlib.make_update(loss_fn, opt, batch_fn=batch_fn)
    state = trainlib.init(params, opt)
    run = jax.jit(trainlib.run_steps, static_argnums=(0, 3))
    history: list[dict[str, float]] = []
    best, best_epoch, best_params = math.inf, 0, params
    if validation is not None:
        v_disp, v_human = validation
        v_targets = np.asarray(v_disp.target)
        h_all = [s for paths in v_human for s in paths]
        h_tg = [int(t) for t, paths in zip(v_targets, v_human, strict=True) for _ in paths]
        human_bv = behaviour_vector(h_all, h_tg)
        n_obj = int(np.shape(v_disp.rows)[1])
        v_seqs = jnp.asarray(encode_scanpaths(h_all, n_obj, max(len(s) for s in h_all)))
        v_batch = _as_jax(v_disp).take(jnp.asarray([i for i, paths in enumerate(v_human) for _ in paths]))
        v_loss = jax.jit(lambda p: sequence_loss(nnx.merge(graphdef, p, rest), v_batch, v_seqs)[0])
    for epoch in range(1, epochs + 1):
        state, metrics = run(update, state, key, spe)
        row = {"epoch": epoch, **{k: float(jnp.mean(v)) for k, v in metrics.items()}}
        if validation is not None:
            m = nnx.merge(graphdef, state.params, rest)
            paths = greedy(m, v_disp, max_len=max_len)
            row["val_delta"] = behaviour_delta(behaviour_vector(paths, v_targets), human_bv)
            row["val_nll"] = float(v_loss(state.params))
            score = row["val_delta"] if select == "delta" else row["val_nll"]
            score = score if math.isfinite(score) else math.inf
            if score < best:
                best, best_epoch, best_params = score, epoch, state.params
        history.append(row)
        if log is not None:
            log("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
        if validation is not None and epoch - best_epoch >= patience:
            break
    if validation is None:
        best_params, best_epoch = state.params, len(history)
    return FitResult(nnx.merge(graphdef, best_params, rest), history, best_epoch)


# ------------------------------------------------------------------------------------------ save / load
def save(path: str | os.PathLike, model: OAT, *, meta: dict[str, Any] | None = None) -> Path:
    """Writes ``path/config.json`` and ``path/state.npz`` (the flattened ``nnx.State``; no pickle).

    Args:
      path: the folder (created).
      model: the model.
      meta: optional JSON-ready notes (e.g. the decoding length, the training summary), read back by
        :func:`load_meta`.

    Example:
      >>> # oat.save("runs/oat_model", model); model2 = oat.load("runs/oat_model")
    """
    path = Path(path)
    if meta is not None:
        atomic_write_text(path / "meta.json", json.dumps(meta, indent=2, default=float))
    flat = nnx.to_flat_state(nnx.state(model))
    arrays = {"/".join(map(str, k)): np.asarray(v.get_value()) for k, v in flat}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path / "state.npz", buf.getvalue())
    atomic_write_text(path / "config.json", cfglib.to_json(model.config))
    return path


def load(path: str | os.PathLike) -> OAT:
    """Rebuilds a model written by :func:`save`.

    Raises:
      CogsimError: missing files or arrays that do not match the configuration.
    """
    path = Path(path)
    for f in ("config.json", "state.npz"):
        if not (path / f).is_file():
            raise CogsimError(
                f"oat.load: {str(path / f)!r} not found (expected a folder written by oat.save)"
            )
    config = cfglib.from_json(OATConfig, (path / "config.json").read_text())
    model = OAT(dataclasses.replace(config, pe_steps=1), key=jax.random.key(0))
    object.__setattr__(model, "config", config)
    state = nnx.state(model)
    flat = nnx.to_flat_state(state)
    with np.load(path / "state.npz", allow_pickle=False) as z:
        stored = {k: z[k] for k in z.files}
    names = ["/".join(map(str, k)) for k, _ in flat]
    if sorted(names) != sorted(stored):
        missing = sorted(set(names) - set(stored))[:5]
        extra = sorted(set(stored) - set(names))[:5]
        raise CogsimError(
            f"oat.load: {str(path)!r} does not match its config (missing {missing}, extra {extra})"
        )
    for (_, v), name in zip(flat, names, strict=True):
        if stored[name].shape != v.get_value().shape:
            raise CogsimError(
                f"oat.load: array {name!r} has shape {stored[name].shape}; "
                f"the config needs {v.get_value().shape}"
            )
        v.set_value(jnp.asarray(stored[name], dtype=v.get_value().dtype))
    nnx.update(model, nnx.from_flat_state(flat))
    return model


def load_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The ``meta`` notes written by :func:`save` (empty when there are none)."""
    f = Path(path) / "meta.json"
    return json.loads(f.read_text()) if f.is_file() else {}


def config_to_dict(config: OATConfig) -> dict[str, Any]:
    """The config as a JSON-ready dict."""
    return json.loads(cfglib.to_json(config))
