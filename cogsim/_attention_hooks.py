"""Hook points of :mod:`cogsim.attention`: patching, ablating and capturing named attention calls.

Hook points: every call given a ``name`` is a hook point. :func:`attention_hook` installs a function that may
replace the output of named calls (ablation, patching); :func:`capturing` collects each named call's
``{"probs", "out"}`` and the values published with :func:`record`. Both work in code traced under ``jit``
(the hooks are part of jit's cache key, so an already-compiled function is traced again while they are
active) and inside ``lax.scan``/``cond`` bodies: a value from a nested trace leaves through a host callback
and is stacked on a leading axis per execution (one entry per scan step), and :func:`scan` returns the
captures of its body through the scan's outputs, so that they can also leave an enclosing ``jit``.
Names are dotted paths, ``"<model>.<part>"`` with optional further parts (``"bottleneck.select"``,
``"induction.layer0"``, ``"oat.decoder.2.cross"``, ``"tensor_brain.semantic"``), where ``<model>`` is the
model's module or package in :mod:`cogsim.models`; recorded activations follow the same scheme
(``"induction.resid1"``). A name is letters, digits and ``_`` in parts joined by ``.``; anything else is
refused (``#`` marks repeated captures).
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import jax
import jax.extend.core as _jex_core
import numpy as np

from cogsim.errors import CogsimError

__all__ = ["Hook", "attention_hook", "capturing", "record", "scan"]

Hook = Callable[[str, jax.Array, jax.Array], jax.Array]

try:  # the active hooks are part of jit's cache key: a cached function is traced again under new hooks
    from jax._src import config as _jax_config

    _HOOK_KEY = _jax_config.config_ext.Config(
        "cogsim_attention_hooks", (), include_in_jit_key=True, include_in_trace_context=True
    )
except (ImportError, AttributeError, TypeError):  # pragma: no cover - a jax without it: clear the caches
    _HOOK_KEY = None

_IDS = itertools.count(1)
_HOOKS: list[tuple[int, Hook]] = []
_CAPTURES: list[_Capture] = []


def _push_key(token: int):
    if _HOOK_KEY is None:  # pragma: no cover
        jax.clear_caches()
        return None
    return _HOOK_KEY.swap_local(_HOOK_KEY.value + (token,))


def _pop_key(previous) -> None:
    if _HOOK_KEY is None:  # pragma: no cover
        jax.clear_caches()
    else:
        _HOOK_KEY.set_local(previous)


def _trace_state():
    return _jex_core.get_opaque_trace_state(convention="flax")


class _Capture:
    """One active capture: values of its own trace are kept as they are; values from nested traces (a jit
    traced inside, a scan body) leave through host callbacks and are stacked per execution on exit."""

    def __init__(self, names: Sequence[str] | None):
        self.wanted = None if names is None else set(names)
        self.store: dict[str, Any] = {}
        self.host: dict[str, list[Any]] = {}
        self.trace = _trace_state()

    def wants(self, name: str) -> bool:
        return self.wanted is None or name in self.wanted

    def _key(self, name: str) -> str:
        key, i = name, 1
        while key in self.store or key in self.host:
            key = f"{name}#{i}"
            i += 1
        return key

    def put(self, name: str, value: Any) -> None:
        if not self.wants(name):
            return
        key = self._key(name)
        if _trace_state() == self.trace:
            self.store[key] = value
            return
        chunks = self.host.setdefault(key, [])
        jax.debug.callback(
            lambda v: chunks.append(jax.tree_util.tree_map(np.asarray, v)), value, ordered=True
        )

    def finish(self) -> None:
        if self.host:
            jax.effects_barrier()
        for key, chunks in self.host.items():
            if len(chunks) == 1:
                self.store[key] = chunks[0]
            elif chunks:
                self.store[key] = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *chunks)
        self.host = {}


@contextlib.contextmanager
def attention_hook(hook: Hook) -> Iterator[None]:
    """Installs ``hook`` for every *named* attention call inside the context.

    The hook receives the call's ``name``, its probabilities ``[batch, heads, q, k]`` and its output
    ``[batch, q, heads, head_dim]`` and returns the (possibly modified) output. It runs at trace time, in
    ``jit`` (already-compiled functions are traced again) and in ``scan`` bodies alike.

    Example:
      >>> import jax.numpy as jnp
      >>> from cogsim.attention import dot_product_attention
      >>> with attention_hook(lambda name, probs, out: 0 * out):
      ...     out = dot_product_attention(jnp.ones((1, 2, 1, 4)), jnp.ones((1, 2, 1, 4)),
      ...                                 jnp.ones((1, 2, 1, 4)), name="a")
      >>> float(out.sum())
      0.0
    """
    if not callable(hook):
        raise CogsimError(
            f"attention_hook: hook={hook!r} is not callable; allowed: a function (name, probs, out) -> out"
        )
    token = next(_IDS)
    _HOOKS.append((token, hook))
    previous = _push_key(token)
    try:
        yield
    finally:
        _HOOKS.remove((token, hook))
        _pop_key(previous)


@contextlib.contextmanager
def capturing(names: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
    """Collects named attention calls (and :func:`record` values) into a dict while the context is active.

    Args:
      names: only these names (default: all): a sequence of hook-point names, not a single string.

    Yields:
      the dict being filled: ``name -> {"probs", "out"}`` for attention, ``name -> value`` for records; a
      name used twice gets ``name#1``, ``name#2``, ... Values from a nested trace (a jitted function called
      inside, a ``lax.scan`` body) arrive as NumPy arrays when the context exits, stacked on a leading axis
      when the call ran more than once (one entry per scan step).

    Example:
      >>> import jax.numpy as jnp
      >>> from cogsim.attention import dot_product_attention
      >>> x = jnp.ones((1, 3, 2, 4))
      >>> with capturing(["l0"]) as cap:
      ...     _ = dot_product_attention(x, x, x, is_causal=True, name="l0")
      ...     _ = dot_product_attention(x, x, x, is_causal=True, name="l1")  # not asked for
      >>> sorted(cap), cap["l0"]["probs"].shape
      (['l0'], (1, 2, 3, 3))
      >>> import numpy as np
      >>> np.asarray(cap["l0"]["probs"][0, 0], float).round(2).tolist()  # uniform over the visible keys
      [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.33, 0.33, 0.33]]
    """
    if names is not None:
        if isinstance(names, str) or not isinstance(names, Iterable):
            raise CogsimError(
                f"capturing: names={names!r} is not allowed; use None (all) or a sequence of hook-point "
                f"names (e.g. [{names!r}] for one name)"
            )
        names = list(names)
        for name in names:
            _check_name(name)
    cap = _Capture(names)
    _CAPTURES.append(cap)
    previous = _push_key(next(_IDS))
    try:
        yield cap.store
    finally:
        _CAPTURES.remove(cap)
        _pop_key(previous)
        cap.finish()


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")


def _check_name(name: str | None) -> None:
    """Refuses a hook-point name outside the dotted scheme of the module docstring (None: no hook point).

    Example:
      >>> _check_name("induction.layer0")
      >>> _check_name("tensor_brain/semantic")
      Traceback (most recent call last):
      ...
      cogsim.errors.CogsimError: name='tensor_brain/semantic' is not a hook-point name; allowed: ...
    """
    if name is not None and not (isinstance(name, str) and _NAME.fullmatch(name)):
        raise CogsimError(
            f"name={name!r} is not a hook-point name; allowed: parts of letters, digits and _ joined by '.' "
            "(e.g. 'bottleneck.select')"
        )


def record(name: str, value: Any) -> Any:
    """Publishes an activation under ``name`` to the active capture (a no-op without one); returns ``value``.

    Example:
      >>> import jax.numpy as jnp
      >>> with capturing() as cap:
      ...     _ = record("h", jnp.ones(2) * 2)
      >>> cap["h"].tolist()
      [2.0, 2.0]
    """
    _check_name(name)
    if _CAPTURES:
        _CAPTURES[-1].put(name, value)
    return value


def _run_hooks(name: str, probs: jax.Array, out: jax.Array) -> jax.Array:
    for _, hook in list(_HOOKS):
        out = hook(name, probs, out)
    if _CAPTURES:
        _CAPTURES[-1].put(name, {"probs": probs, "out": out})
    return out


def _hooked(name: str | None) -> bool:
    return name is not None and bool(_HOOKS or _CAPTURES)


def scan(
    f: Callable, init: Any, xs: Any = None, length: int | None = None, *, reverse: bool = False, unroll=1
):
    """:func:`jax.lax.scan` whose body's captures leave through the scan's outputs.

    Without an active capture this is ``lax.scan`` itself. With one, each named call and record of the body
    comes out stacked over the steps (leading axis) as a traced value of the enclosing trace, so it can be
    returned from an enclosing ``jit`` (a plain ``lax.scan`` body's values leave through host callbacks).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> def step(c, x):
      ...     return c + x, record("seen", 2 * x)
      >>> @jax.jit
      ... def f(xs):
      ...     with capturing() as cap:
      ...         c, _ = scan(step, 0.0, xs)
      ...     return c, cap
      >>> c, cap = f(jnp.arange(3.0))
      >>> cap["seen"].tolist()
      [0.0, 2.0, 4.0]
    """
    if not _CAPTURES:
        return jax.lax.scan(f, init, xs, length=length, reverse=reverse, unroll=unroll)
    outer = _CAPTURES[-1]

    def body(carry, x):
        with capturing(outer.wanted) as store:
            carry, y = f(carry, x)
        return carry, (y, dict(store))

    carry, (ys, stacked) = jax.lax.scan(body, init, xs, length=length, reverse=reverse, unroll=unroll)
    for name, value in stacked.items():
        outer.put(name.split("#")[0], value)
    return carry, ys
