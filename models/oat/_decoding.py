"""Greedy and sampled decoding of scanpaths with a key-value cache."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from cogsim.errors import CogsimError
from cogsim.models.oat._config import MAX_POSITIONS
from cogsim.models.oat._data import Displays, _as_jax, special_tokens, tokens_to_scanpaths
from cogsim.models.oat._layers import pointer_mask, sinusoid
from cogsim.models.oat._model import OAT


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
