"""Probes for any cogsim model: capture, head scores, ablation and activation patching.

Every attention call made through :func:`cogsim.attention.dot_product_attention` with a ``name`` is a hook
point (see :func:`cogsim.attention.attention_hook` and :func:`cogsim.attention.capturing`). This module
builds on them:

- :func:`run_with_capture` runs a function and returns ``(result, captured)`` where ``captured[name]`` holds
  ``"probs"`` ``[batch, heads, q, k]`` and ``"out"`` ``[batch, q, heads, head_dim]`` of each named attention
  call, and the activations models publish with :func:`record`.
- Head scores with the TransformerLens definitions, ``score = sum(A * M) / sum(A)`` for a mask ``M``:
  :func:`previous_token_score`, :func:`duplicate_token_score`, :func:`induction_score`, plus
  :func:`prefix_matching_score` on repeated random tokens and the retrieval score of Wu et al. (2024)
  (:func:`retrieval_score`).
- :func:`ablate` (zero or mean ablation of heads) and :func:`patch` (activation patching from a captured
  run) are context managers that install hooks modifying a head's output; :func:`head_effects` tabulates
  the effect of ablating each head on a metric.

Hooks act while a function is traced, and the active hooks are part of jit's cache key, so probes work on
plain and on already-jitted functions alike. A capture keeps the values of its own trace as they are (wrap
the probe call in ``jax.jit`` to get traced arrays back); values from nested traces (a jitted function
called inside, ``lax.scan``/``cond`` bodies) come back as NumPy arrays through host callbacks, stacked on a
leading axis per execution (one entry per scan step). :func:`cogsim.attention.scan` instead returns its
body's captures through the scan's outputs, so they leave an enclosing ``jit`` as traced arrays.

Example:
  >>> import jax.numpy as jnp
  >>> from cogsim import probes
  >>> from cogsim.attention import dot_product_attention
  >>> def f(x):
  ...     return dot_product_attention(x, x, x, is_causal=True, name="l0").sum()
  >>> y, cap = probes.run_with_capture(f, jnp.ones((1, 3, 2, 4)))
  >>> cap["l0"]["probs"].shape
  (1, 2, 3, 3)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jaxtyping import Array, Bool, Float, Int

from cogsim import attention as _attention
from cogsim.errors import CogsimError, did_you_mean

ABLATION_MODES = ("zero", "mean")

# The hook points live in cogsim.attention; these are the capture side of them.
record = _attention.record
capturing = _attention.capturing


# ------------------------------------------------------------------------------------------------ capture
def run_with_capture(
    fn: Callable[..., Any], *args: Any, names: Sequence[str] | None = None, **kwargs: Any
) -> tuple[Any, dict[str, Any]]:
    """Runs ``fn(*args, **kwargs)`` and returns ``(result, captured)``.

    ``captured[name]`` is ``{"probs": [b, h, q, k], "out": [b, q, h, d]}`` for each named attention call and
    the value for each :func:`record`. A name used twice gets ``name#1``, ``name#2``, ... ``fn`` may be
    jitted already; calls in ``lax.scan`` bodies are stacked over the steps.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from cogsim.attention import dot_product_attention
      >>> f = lambda x: dot_product_attention(x, x, x, name="a")
      >>> _, cap = jax.jit(lambda x: run_with_capture(f, x))(jnp.ones((2, 4, 1, 8)))
      >>> cap["a"]["out"].shape
      (2, 4, 1, 8)
    """
    with capturing(names) as store:
        result = fn(*args, **kwargs)
    return result, dict(store)


# ------------------------------------------------------------------------------------------------ masks
def previous_token_mask(seq_len: int, *, offset: int = 1) -> jax.Array:
    """``M[i, j] = 1`` where ``j = i - offset`` (``[seq_len, seq_len]``).

    Example:
      >>> previous_token_mask(3).astype(int).tolist()
      [[0, 0, 0], [1, 0, 0], [0, 1, 0]]
    """
    i = jnp.arange(seq_len)
    return (i[None, :] == i[:, None] - offset).astype(jnp.float32)


def duplicate_token_mask(tokens: Int[Array, "... t"]) -> jax.Array:
    """``M[i, j] = 1`` where ``tokens[j] == tokens[i]`` and ``j < i`` (TransformerLens, causal part).

    Example:
      >>> duplicate_token_mask(jnp.array([5, 7, 5, 7])).astype(int).tolist()
      [[0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]]
    """
    t = tokens.shape[-1]
    eq = tokens[..., :, None] == tokens[..., None, :]
    earlier = jnp.arange(t)[None, :] < jnp.arange(t)[:, None]
    return (eq & earlier).astype(jnp.float32)


def induction_mask(tokens: Int[Array, "... t"]) -> jax.Array:
    """The duplicate mask shifted one key to the right: ``M[i, j] = 1`` where ``tokens[j-1] == tokens[i]``,
    ``j - 1 < i`` and ``j <= i`` (attend to the token *after* an earlier copy of the current token).

    Example:
      >>> induction_mask(jnp.array([5, 7, 5, 7])).astype(int).tolist()
      [[0, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]
    """
    dup = duplicate_token_mask(tokens)
    shifted = jnp.concatenate([jnp.zeros_like(dup[..., :1]), dup[..., :-1]], -1)
    t = tokens.shape[-1]
    causal = jnp.arange(t)[None, :] <= jnp.arange(t)[:, None]
    return shifted * causal


# ------------------------------------------------------------------------------------------------ scores
def head_score(
    probs: Float[Array, "b h q k"],
    mask: Float[Array, "#b q k"],
    *,
    rows: Int[Array, " r"] | None = None,
    exclude_bos: bool = False,
    exclude_current_token: bool = False,
) -> jax.Array:
    """``sum(A * M) / sum(A)`` per sequence, averaged over the batch; one score per head ``[heads]``.

    Args:
      probs: attention probabilities ``[batch, heads, q, k]``.
      mask: the pattern, ``[q, k]`` or ``[batch, q, k]``.
      rows: restrict to these query positions (e.g. the last token).
      exclude_bos: zero the attention to key 0 first (TransformerLens option).
      exclude_current_token: zero the diagonal first (TransformerLens option).

    Example:
      >>> A = jnp.eye(3)[None, None]
      >>> float(head_score(A, jnp.eye(3))[0])
      1.0
    """
    a = probs
    q, k = a.shape[-2], a.shape[-1]
    if exclude_bos:
        a = a.at[..., 0].set(0.0)
    if exclude_current_token:
        a = a * (1.0 - jnp.eye(q, k, k - q))
    mask = jnp.asarray(mask)
    b = a.shape[0]
    if (
        a.ndim != 4
        or mask.ndim not in (2, 3)
        or mask.shape[-2:] != (q, k)
        or (mask.ndim == 3 and mask.shape[0] not in (1, b))
    ):
        raise CogsimError(
            f"probes.head_score: probs of shape {tuple(a.shape)} and mask of shape {tuple(mask.shape)} "
            f"do not fit; allowed: probs [batch, heads, q, k] and mask [q, k] or [batch, q, k]"
            f" (here [{q}, {k}] or [{b}, {q}, {k}])"
        )
    m = mask if mask.ndim == 3 else mask[None]
    m = m[:, None]  # [b, 1, q, k]
    if rows is not None:
        a = a[:, :, rows]
        m = m[:, :, rows]
    num = jnp.sum(a * m, axis=(-2, -1))
    den = jnp.sum(a, axis=(-2, -1))
    return jnp.mean(num / jnp.where(den > 0, den, 1.0), axis=0)


def previous_token_score(probs: Float[Array, "b h q k"], *, rows=None, **kw) -> jax.Array:
    """Attention to the previous position (TransformerLens ``previous_token_head``), per head.

    Example:
      >>> A = jnp.eye(4, k=-1).at[0, 0].set(1.0)[None, None]
      >>> float(previous_token_score(A, rows=jnp.arange(1, 4))[0])
      1.0
    """
    q, k = probs.shape[-2], probs.shape[-1]
    return head_score(probs, previous_token_mask(max(q, k))[-q:, :k], rows=rows, **kw)


def duplicate_token_score(
    probs: Float[Array, "b h q k"], tokens: Int[Array, "b t"], *, rows=None, **kw
) -> jax.Array:
    """Attention to earlier copies of the current token, per head.

    Example:
      >>> tokens = jnp.array([[5, 7, 5, 7]])
      >>> A = jnp.array([[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0.0]])[None, None]  # 2->0, 3->1
      >>> float(duplicate_token_score(A, tokens, rows=jnp.array([2, 3]))[0])  # the repeated tokens' rows
      1.0
    """
    return head_score(probs, duplicate_token_mask(tokens), rows=rows, **kw)


def induction_score(
    probs: Float[Array, "b h q k"], tokens: Int[Array, "b t"], *, rows=None, **kw
) -> jax.Array:
    """Attention to the token after an earlier copy of the current token, per head.

    Example:
      >>> tokens = jnp.array([[5, 7, 5, 7]])
      >>> A = jnp.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0.0]])[None, None]  # 2->1, 3->2
      >>> r = jnp.array([2, 3])
      >>> float(induction_score(A, tokens, rows=r)[0]), float(duplicate_token_score(A, tokens, rows=r)[0])
      (1.0, 0.0)
    """
    return head_score(probs, induction_mask(tokens), rows=rows, **kw)


def repeated_random_tokens(
    key: jax.Array, batch: int, period: int, vocab: int, *, repeats: int = 2, bos: int | None = None
) -> jax.Array:
    """``[batch, repeats * period (+1)]`` random tokens repeated ``repeats`` times (optional BOS first).

    Example:
      >>> import jax
      >>> t = repeated_random_tokens(jax.random.key(0), 2, 5, 100)
      >>> bool((t[:, :5] == t[:, 5:]).all())
      True
    """
    seq = jax.random.randint(key, (batch, period), 0, vocab)
    out = jnp.tile(seq, (1, repeats))
    if bos is not None:
        out = jnp.concatenate([jnp.full((batch, 1), bos, out.dtype), out], 1)
    return out


def prefix_matching_score(probs: Float[Array, "b h q k"], period: int, *, offset: int = 0) -> jax.Array:
    """Mean attention, over positions of the second and later repeats, to the token that followed the current
    token's previous occurrence (key ``i - period + 1``), per head; ``offset`` = 1 with a BOS token.

    Example:
      >>> P, T = 3, 6
      >>> A = jnp.zeros((T, T)).at[jnp.arange(T), jnp.maximum(jnp.arange(T) - P + 1, 0)].set(1.0)
      >>> float(prefix_matching_score(A[None, None], P)[0])
      1.0
    """
    q = probs.shape[-2]
    if isinstance(period, bool) or not isinstance(period, (int, np.integer)) or not 1 <= period < q - offset:
        raise CogsimError(
            f"probes.prefix_matching_score: period={period!r} is not allowed; allowed: an integer in "
            f"1..{q - offset - 1} (below the {q} query positions less offset={offset})"
        )
    rows = jnp.arange(offset + period, q)
    cols = rows - period + 1
    return jnp.mean(probs[:, :, rows, cols], axis=(0, 2))


def retrieval_score(
    probs: Float[Array, "b h s k"],
    context_tokens: Int[Array, "b k"],
    emitted: Int[Array, "b s"],
    needle: Bool[Array, "b k"],
) -> jax.Array:
    """Retrieval score (Wu et al., 2024) per head, averaged over the batch.

    At each decoding step ``s`` the head's most-attended context position ``j`` counts ``1 / |needle|`` when
    ``j`` lies in the needle and the emitted token equals ``context_tokens[j]``. Heads above 0.1 are
    retrieval heads.

    Args:
      probs: attention of the decoding steps to the context, ``[batch, heads, steps, k]``.
      context_tokens: token at each context position.
      emitted: the token emitted at each step.
      needle: positions of the needle.

    Example:
      >>> ctx = jnp.array([[5, 6, 7, 8]]); needle = jnp.array([[False, True, True, False]])
      >>> A = jnp.zeros((1, 1, 2, 4)).at[0, 0, 0, 1].set(1.0).at[0, 0, 1, 2].set(1.0)
      >>> float(retrieval_score(A, ctx, jnp.array([[6, 7]]), needle)[0])
      1.0
    """
    j = jnp.argmax(probs, axis=-1)  # [b, h, s]
    tok_at = jnp.take_along_axis(context_tokens[:, None, :], j.reshape(j.shape[0], -1)[:, None, :], -1)
    tok_at = tok_at.reshape(j.shape)
    in_needle = jnp.take_along_axis(needle[:, None, :], j.reshape(j.shape[0], -1)[:, None, :], -1).reshape(
        j.shape
    )
    hit = in_needle & (tok_at == emitted[:, None, :])
    size = jnp.maximum(jnp.sum(needle, -1), 1)[:, None]
    return jnp.mean(jnp.sum(hit, -1) / size, axis=0)


# ------------------------------------------------------------------------------------------- interventions
def _heads_index(spec, n_heads, *, who, name):
    if spec is None:
        return jnp.ones((n_heads,), bool)
    spec = [spec] if isinstance(spec, int) else list(spec)
    arr = np.asarray(spec).ravel()
    bad = [h for h in spec if isinstance(h, bool)] if arr.dtype.kind in "iu" or not arr.size else spec
    bad = bad or arr[(arr < -n_heads) | (arr >= n_heads)].tolist()
    if bad:
        raise CogsimError(
            f"probes.{who}: heads {bad} of {name!r} are out of range; {name!r} has {n_heads} heads, "
            f"allowed: 0..{n_heads - 1} (negative ones count from the end), or None for all"
        )
    return jnp.zeros((n_heads,), bool).at[jnp.asarray(spec, int)].set(True)


@contextlib.contextmanager
def _hooked_names(who: str, heads: Mapping[str, Any], hook) -> Iterator[None]:
    """Installs ``hook`` and, when the block ends normally, refuses names of ``heads`` no call used."""
    seen: list[str] = []

    def seeing(name, probs, out):
        if name not in seen:
            seen.append(name)
        return hook(name, probs, out)

    with _attention.attention_hook(seeing):
        yield
    unseen = [n for n in heads if n not in seen]
    if unseen:
        raise CogsimError(
            f"probes.{who}: heads={dict(heads)!r} names {unseen} but no attention call of that name ran "
            f"inside the block; names seen: {seen}{did_you_mean(unseen[0], seen)}"
        )


@contextlib.contextmanager
def ablate(
    heads: Mapping[str, int | Sequence[int] | None],
    *,
    mode: str = "zero",
    means: Mapping[str, Any] | None = None,
) -> Iterator[None]:
    """Zero- or mean-ablates heads of named attention calls while the context is active (at trace time).

    Args:
      heads: ``{name: head | [heads] | None}`` (None = all heads of that call).
      mode: ``"zero"``, or ``"mean"``: replace the head's output by its mean over the batch (per position), or
        by ``means[name]`` (``[q, heads, d]``, e.g. from a captured reference run) when given.
      means: optional reference means per name.

    Raises:
      CogsimError: a head out of range for its call, or (when the block ends) a name no call inside used.

    Example:
      >>> import jax.numpy as jnp
      >>> from cogsim.attention import dot_product_attention
      >>> f = lambda x: dot_product_attention(x, x, x, name="a")
      >>> with ablate({"a": 0}):
      ...     out = f(jnp.ones((1, 2, 2, 4)))
      >>> float(out[:, :, 0].sum()), float(out[:, :, 1].sum())
      (0.0, 8.0)
    """
    if mode not in ABLATION_MODES:
        raise CogsimError(f"probes.ablate: mode={mode!r} is not allowed; choose one of {ABLATION_MODES}")

    def hook(name, probs, out):
        if name not in heads:
            return out
        sel = _heads_index(heads[name], out.shape[2], who="ablate", name=name)[None, None, :, None]
        if mode == "zero":
            repl = jnp.zeros_like(out)
        elif means is not None and name in means:
            repl = jnp.broadcast_to(jnp.asarray(means[name], out.dtype), out.shape)
        else:
            repl = jnp.broadcast_to(jnp.mean(out, axis=0, keepdims=True), out.shape)
        return jnp.where(sel, repl, out)

    with _hooked_names("ablate", heads, hook):
        yield


def _check_positions(positions, q: int, name: str) -> None:
    """Refuses concrete query positions outside ``-q..q-1`` (traced positions are not checked)."""
    try:
        pos = np.asarray(positions)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return
    bad = pos[(pos < -q) | (pos >= q)] if pos.size else pos
    if bad.size:
        raise CogsimError(
            f"probes.patch: positions {bad.tolist()} are out of range for {name!r}, which has {q} query "
            f"positions; allowed: 0..{q - 1}"
        )


@contextlib.contextmanager
def patch(
    source: Mapping[str, Any],
    heads: Mapping[str, int | Sequence[int] | None],
    *,
    positions: Int[Array, " p"] | None = None,
) -> Iterator[None]:
    """Activation patching: replaces heads' outputs by those captured in another run.

    Args:
      source: ``captured`` from :func:`run_with_capture` on the source (e.g. clean) input.
      heads: ``{name: head | [heads] | None}`` to patch.
      positions: only these query positions (default: all).

    Raises:
      CogsimError: a head or position out of range, or (when the block ends) a name no call inside used.

    Example:
      >>> import jax.numpy as jnp
      >>> from cogsim.attention import dot_product_attention
      >>> f = lambda x: dot_product_attention(x, x, x, name="a")
      >>> _, src = run_with_capture(f, 2 * jnp.ones((1, 2, 1, 4)))
      >>> with patch(src, {"a": None}):
      ...     out = f(jnp.ones((1, 2, 1, 4)))
      >>> float(out.mean())
      2.0
    """

    def hook(name, probs, out):
        if name not in heads:
            return out
        if name not in source:
            raise CogsimError(f"probes.patch: no captured activation named {name!r}; have {sorted(source)}")
        src = jnp.asarray(source[name]["out"], out.dtype)
        if src.shape != out.shape:
            raise CogsimError(f"probes.patch: source {name!r} has shape {src.shape}, the run has {out.shape}")
        sel = _heads_index(heads[name], out.shape[2], who="patch", name=name)[None, None, :, None]
        if positions is not None:
            _check_positions(positions, out.shape[1], name)
            sel = sel & jnp.zeros((out.shape[1],), bool).at[positions].set(True)[None, :, None, None]
        return jnp.where(sel, src, out)

    with _hooked_names("patch", heads, hook):
        yield


def head_effects(
    fn: Callable[..., Any],
    args: Sequence[Any],
    metric: Callable[[Any], Any],
    heads: Mapping[str, int],
    *,
    mode: str = "zero",
) -> pd.DataFrame:
    """Ablates each head alone and reports the metric with and without it.

    Args:
      fn: a plain (not jitted) function of ``args`` whose attention calls are named.
      args: its arguments.
      metric: maps ``fn``'s result to a scalar (e.g. accuracy).
      heads: ``{name: number of heads}``.
      mode: ``"zero"`` or ``"mean"``.

    Returns:
      one row per ``(name, head)``: ``clean``, ``ablated`` and ``effect = ablated - clean``.

    Example:
      >>> import jax.numpy as jnp
      >>> from cogsim.attention import dot_product_attention
      >>> f = lambda x: dot_product_attention(x, x, x, name="a")
      >>> head_effects(f, [jnp.ones((1, 2, 2, 4))], lambda o: o.sum(), {"a": 2})["effect"].tolist()
      [-8.0, -8.0]
    """
    clean = float(metric(jax.jit(fn)(*args)))
    rows = []
    for name, n in heads.items():
        for h in range(n):

            def ablated_fn(*a, _name=name, _h=h):
                with ablate({_name: _h}, mode=mode):
                    return fn(*a)

            v = float(metric(jax.jit(ablated_fn)(*args)))
            rows.append({"name": name, "head": h, "clean": clean, "ablated": v, "effect": v - clean})
    return pd.DataFrame(rows)


def to_numpy(captured: Mapping[str, Any]) -> dict[str, Any]:
    """The captured dict with every array converted to NumPy.

    Example:
      >>> cap = to_numpy({"l0": {"probs": jnp.ones((1, 2, 3, 3))}, "h": jnp.zeros(4)})
      >>> type(cap["l0"]["probs"]).__name__, cap["h"].shape
      ('ndarray', (4,))
    """
    return jax.tree_util.tree_map(np.asarray, dict(captured))
