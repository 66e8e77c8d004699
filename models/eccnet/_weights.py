"""Backbone weights on disk: the Keras-named loader, pickle-free .npz files and the shipped backbones.

Example:
  >>> params, meta = shipped("diet_normal")
  >>> meta["diet"], widths_of(params)
  ('normal', (8, 16, 32, 64, 64))
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from cogsim.errors import CogsimError
from cogsim.models.eccnet._backbone import CAFFE_PREPROCESS, LAYER_NAMES, widths_of

__all__ = ["from_keras", "load_npz", "save_npz", "shipped", "weights_dir", "widths_of"]


def weights_dir() -> Path:
    """Folder of the shipped backbones (``cogsim/weights/eccnet``)."""
    import importlib.resources

    return Path(str(importlib.resources.files("cogsim"))) / "weights" / "eccnet"


def from_keras(weights: Mapping[str, Any]) -> dict:
    """Converts Keras-named VGG16 weights into backbone parameters, checking every shape.

    Args:
      weights: either nested (``{"block1_conv1": {"kernel": ..., "bias": ...}}``, also with a list
        ``[kernel, bias]`` as Keras' ``get_weights`` gives) or flat (``{"block1_conv1/kernel": ...}``,
        e.g. an ``np.load``-ed .npz). Kernels are ``[3, 3, in, out]``, biases ``[out]``. Extra entries
        (fully connected layers) are ignored.

    Raises:
      CogsimError: a missing layer or a shape that does not chain, naming the layer.

    Example:
      >>> rng = np.random.default_rng(0)
      >>> w, cin = {}, 3
      >>> for name, out in zip(LAYER_NAMES, [4, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]):
      ...     w[name + "/kernel"] = rng.normal(size=(3, 3, cin, out))
      ...     w[name + "/bias"] = np.zeros(out)
      ...     cin = out
      >>> widths_of(from_keras(w))
      (4, 8, 8, 8, 8)
    """
    out, cin = {}, 3
    for name in LAYER_NAMES:
        if name in weights:
            entry = weights[name]
            if isinstance(entry, Mapping):
                kernel, bias = entry.get("kernel"), entry.get("bias")
            else:
                kernel, bias = entry[0], entry[1]
        else:
            kernel, bias = weights.get(f"{name}/kernel"), weights.get(f"{name}/bias")
        if kernel is None or bias is None:
            raise CogsimError(
                f"from_keras: layer {name!r} (kernel and bias) is missing; have "
                f"{sorted(str(k) for k in weights)[:8]}..."
            )
        kernel, bias = np.asarray(kernel, np.float32), np.asarray(bias, np.float32)
        if kernel.ndim != 4 or kernel.shape[:2] != (3, 3) or kernel.shape[2] != cin:
            raise CogsimError(
                f"from_keras: {name} kernel has shape {kernel.shape}; expected (3, 3, {cin}, out)"
            )
        if bias.shape != (kernel.shape[3],):
            raise CogsimError(
                f"from_keras: {name} bias has shape {bias.shape}; expected ({kernel.shape[3]},)"
            )
        out[name] = {"kernel": jnp.asarray(kernel), "bias": jnp.asarray(bias)}
        cin = kernel.shape[3]
    return out


def save_npz(
    path: str | os.PathLike,
    params: Mapping[str, Any],
    *,
    meta: Mapping[str, Any] | None = None,
    dtype: str = "float16",
) -> None:
    """Writes parameters (Keras names, ``name/kernel``) and a JSON ``meta`` record to a pickle-free .npz."""
    from cogsim.store import atomic_write_bytes

    arrays = {
        f"{n}/{k}": np.asarray(params[n][k], np.float32) for n in LAYER_NAMES for k in ("kernel", "bias")
    }
    if np.dtype(dtype) != np.float32:
        low = {k: v.astype(dtype) for k, v in arrays.items()}
        if not all(np.all(np.isfinite(v)) for v in low.values()):
            raise CogsimError(f"save_npz: parameters overflow {dtype}; save with dtype='float32'")
        arrays = low
    arrays["meta"] = np.array(json.dumps(dict(meta or {}), sort_keys=True, default=str))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_npz(path: str | os.PathLike) -> tuple[dict, dict]:
    """Reads a backbone .npz (from :func:`save_npz`, or Keras-named arrays); returns ``(params, meta)``.

    Without a ``meta`` record the file is taken to hold ImageNet (caffe-preprocessed) weights.
    """
    path = Path(path)
    if not path.exists():
        raise CogsimError(f"backbone weights {str(path)!r} do not exist")
    allowed = "a backbone .npz written by save_npz, or Keras-named arrays (name/kernel, name/bias)"
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise ValueError("a single array, not an archive of named arrays")
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays.pop("meta"))) if "meta" in arrays else {"preprocess": CAFFE_PREPROCESS}
        params = from_keras(arrays)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "pickled" in msg:  # what NumPy says of a file that is no .npy/.npz at all
            msg = "not a NumPy .npz archive"
        raise CogsimError(
            f"backbone weights {str(path)!r} are not readable ({msg}); allowed: {allowed}"
        ) from None
    return params, meta


def check_weights(weights: str) -> None:
    """Raises a one-line CogsimError unless ``weights`` names a shipped backbone or a readable backbone .npz
    (the check a config runs before any computation).

    Example:
      >>> check_weights("diet_normal")
    """
    if weights.endswith(".npz") or "/" in weights or os.sep in weights:
        load_npz(weights)
    elif not (weights_dir() / f"{weights}.npz").exists():
        have = sorted(p.stem for p in weights_dir().glob("*.npz"))
        raise CogsimError(f"no shipped eccNET backbone {weights!r}; available: {have} or a path to a .npz")


def shipped(name: str) -> tuple[dict, dict]:
    """Loads one of the backbones shipped in ``cogsim/weights/eccnet`` (e.g. ``"diet_normal"``)."""
    path = weights_dir() / f"{name}.npz"
    if not path.exists():
        have = sorted(p.stem for p in weights_dir().glob("*.npz"))
        raise CogsimError(f"no shipped eccNET backbone {name!r}; available: {have}")
    return load_npz(path)
