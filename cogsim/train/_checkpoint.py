"""Checkpoints: one pickle-free format, arrays keyed by their pytree path.

A pytree is written as one ``.npz`` file whose entries are named by the leaf's path in the tree, its keys
joined by ``/`` (``params/attn/0/Wq``, ``opt_state/0/mu/readout``, ``encoder/0/attn/q/kernel``). Reading it
back into the structure of a template (``like``) matches entries by name, so a checkpoint names what it
holds, survives reordering of dict keys, and fails with a message naming the missing, unexpected or
mis-shaped arrays instead of restoring them into the wrong leaves. PRNG key leaves are stored as their raw
key data. A training checkpoint (:func:`save_checkpoint`) is a folder holding ``state.npz`` (the
:class:`TrainState`), ``history.json`` (the logged rows), ``meta.json`` (the run's key data and early-stopping
settings, which a resumed run must match) and, with early stopping, ``best.npz`` (the best parameters so
far).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from cogsim.errors import CogsimError
from cogsim.store import atomic_write_bytes, atomic_write_text

ROOT = "value"  # the name of a tree that is a single array


def _key_name(k: Any) -> str:
    for attr in ("key", "idx", "name"):  # DictKey / FlattenedIndexKey, SequenceKey, GetAttrKey
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def _flat(tree: Any) -> tuple[list[str], list[Any], Any]:
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    names = ["/".join(_key_name(k) for k in path) or ROOT for path, _ in leaves]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})[:3]
        raise CogsimError(f"checkpoint: leaf paths {dup} occur twice; use keys without '/'")
    return names, [x for _, x in leaves], treedef


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def path_names(tree: Any) -> list[str]:
    """The names under which :func:`save_pytree` stores the leaves of ``tree`` (in leaf order).

    Example:
      >>> path_names({"b": [1.0, 2.0], "a": {"w": 0.0}})
      ['a/w', 'b/0', 'b/1']
    """
    return _flat(tree)[0]


def pytree_bytes(tree: Any) -> bytes:
    """The ``.npz`` bytes of ``tree``: one array per leaf, named by its path (see :func:`path_names`)."""
    names, leaves, _ = _flat(tree)
    arrays = {
        n: np.asarray(jax.random.key_data(x) if _is_key(x) else x) for n, x in zip(names, leaves, strict=True)
    }
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def save_pytree(path: str | os.PathLike, tree: Any) -> Path:
    """Writes ``tree`` to the ``.npz`` file ``path`` atomically (no pickle); returns the path.

    Example:
      >>> import tempfile, jax.numpy as jnp
      >>> f = Path(tempfile.mkdtemp()) / "w.npz"
      >>> _ = save_pytree(f, {"w": jnp.ones(2), "b": jnp.zeros(())})
      >>> load_pytree(f, {"w": jnp.zeros(2), "b": jnp.ones(())})["w"].tolist()
      [1.0, 1.0]
    """
    path = Path(path)
    atomic_write_bytes(path, pytree_bytes(tree))
    return path


def load_pytree(path: str | os.PathLike, like: Any) -> Any:
    """Reads a file of :func:`save_pytree` into the structure (and dtypes) of ``like``.

    Raises:
      CogsimError: the file is missing, or its names or shapes differ from those of ``like``.

    Example:
      >>> import tempfile, jax.numpy as jnp
      >>> f = save_pytree(Path(tempfile.mkdtemp()) / "w.npz", {"w": jnp.arange(3.0)})
      >>> load_pytree(f, {"w": jnp.zeros(3)})["w"].tolist()
      [0.0, 1.0, 2.0]
      >>> load_pytree(f, {"w": jnp.zeros(4)})
      Traceback (most recent call last):
      ...
      cogsim.errors.CogsimError: checkpoint: array 'w' has shape (3,); the model needs (4,)
    """
    path = Path(path)
    if not path.is_file():
        raise CogsimError(f"checkpoint: {str(path)!r} not found")
    names, leaves, treedef = _flat(like)
    with np.load(path, allow_pickle=False) as z:
        stored = {k: z[k] for k in z.files}
    if set(names) != set(stored):
        missing = sorted(set(names) - set(stored))[:5]
        extra = sorted(set(stored) - set(names))[:5]
        raise CogsimError(
            f"checkpoint: {str(path)!r} does not match this model/optimizer "
            f"(missing {missing}, extra {extra})"
        )
    out = []
    for name, x in zip(names, leaves, strict=True):
        s = stored[name]
        if _is_key(x):
            want = jax.random.key_data(x).shape
            if s.shape != want:
                raise CogsimError(f"checkpoint: key {name!r} has shape {s.shape}; expected {want}")
            out.append(jax.random.wrap_key_data(jnp.asarray(s), impl=jax.random.key_impl(x)))
            continue
        if s.shape != np.shape(x):
            raise CogsimError(
                f"checkpoint: array {name!r} has shape {s.shape}; the model needs {np.shape(x)}"
            )
        out.append(jnp.asarray(s, dtype=jnp.asarray(x).dtype))
    return jax.tree_util.tree_unflatten(treedef, out)


def save_checkpoint(
    path: str | os.PathLike,
    state: Any,
    history: list[dict[str, Any]],
    *,
    best: Any = None,
    meta: dict[str, Any] | None = None,
) -> None:
    """Writes a training checkpoint folder: ``state.npz``, ``history.json``, (``meta``) ``meta.json`` and
    (``best``) ``best.npz``.

    Args:
      path: the folder (created).
      state: the :class:`TrainState` (any pytree).
      history: the logged rows so far (JSON-ready).
      best: optional best parameters of early stopping.
      meta: optional JSON-ready facts about the run (its key data, early-stopping settings).

    Example:
      >>> import tempfile, jax.numpy as jnp, optax
      >>> from cogsim.train import init
      >>> folder = Path(tempfile.mkdtemp()) / "ckpt"
      >>> save_checkpoint(folder, init(jnp.ones(2), optax.sgd(0.1)), [{"step": 10, "loss": 0.5}])
      >>> sorted(p.name for p in folder.iterdir())
      ['history.json', 'state.npz']
    """
    path = Path(path)
    if best is not None:
        save_pytree(path / "best.npz", best)
    if meta is not None:
        atomic_write_text(path / "meta.json", json.dumps(meta))
    save_pytree(path / "state.npz", state)
    atomic_write_text(path / "history.json", json.dumps(history, default=float))


def load_checkpoint(path: str | os.PathLike, like: Any) -> tuple[Any, list[dict[str, Any]]] | None:
    """Restores a checkpoint folder into the structure of ``like``; None when there is none.

    Returns:
      ``(state, history)``; the best parameters, if saved, are read by :func:`load_best`.

    Example:
      >>> import tempfile, jax.numpy as jnp, optax
      >>> from cogsim.train import init
      >>> folder = Path(tempfile.mkdtemp())
      >>> state = init(jnp.ones(2), optax.sgd(0.1))
      >>> save_checkpoint(folder, state._replace(step=state.step + 10), [{"step": 10, "loss": 0.5}])
      >>> restored, history = load_checkpoint(folder, state)
      >>> int(restored.step), restored.params.tolist(), history
      (10, [1.0, 1.0], [{'step': 10, 'loss': 0.5}])
      >>> load_checkpoint(folder / "none", state) is None
      True
    """
    path = Path(path)
    if not (path / "state.npz").exists():
        return None
    state = load_pytree(path / "state.npz", like)
    history = json.loads((path / "history.json").read_text()) if (path / "history.json").exists() else []
    return state, history


def load_meta(path: str | os.PathLike) -> dict[str, Any] | None:
    """The ``meta`` saved with a checkpoint (None for a checkpoint written without one)."""
    f = Path(path) / "meta.json"
    return json.loads(f.read_text()) if f.exists() else None


def load_best(path: str | os.PathLike, like: Any) -> Any | None:
    """The best parameters saved with a checkpoint (None when there are none).

    Example:
      >>> import tempfile, jax.numpy as jnp, optax
      >>> from cogsim.train import init
      >>> folder, state = Path(tempfile.mkdtemp()), init(jnp.zeros(2), optax.sgd(0.1))
      >>> save_checkpoint(folder, state, [], best=jnp.array([0.5, 2.0]))
      >>> load_best(folder, jnp.zeros(2)).tolist()
      [0.5, 2.0]
    """
    f = Path(path) / "best.npz"
    return load_pytree(f, like) if f.exists() else None
