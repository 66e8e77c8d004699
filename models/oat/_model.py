"""The OAT encoder-decoder with its pointer head, and its teacher-forced loss."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Int

from cogsim import config as cfglib
from cogsim.errors import CogsimError
from cogsim.models.oat._config import OATConfig
from cogsim.models.oat._data import Displays, _as_jax
from cogsim.models.oat._layers import (
    _XAVIER,
    CropCNN,
    _DecoderLayer,
    _dropout,
    _EncoderLayer,
    _Keys,
    _Pointer,
    pointer_mask,
    sinusoid,
)
from cogsim.models.oat._positional import PositionTable, learn_positional_table


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
