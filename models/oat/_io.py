"""Saving and loading a trained OAT model: its config as JSON, its state in cogsim's checkpoint format."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import jax
from flax import nnx

from cogsim import config as cfglib
from cogsim import train
from cogsim.errors import CogsimError
from cogsim.models.oat._config import OATConfig
from cogsim.models.oat._model import OAT
from cogsim.store import atomic_write_text


def save(path: str | os.PathLike, model: OAT, *, meta: dict[str, Any] | None = None) -> Path:
    """Writes ``path/config.json`` and ``path/state.npz`` (the ``nnx.State`` through
    :func:`cogsim.train.save_pytree`: arrays named by their path, no pickle).

    Args:
      path: the folder (created).
      model: the model.
      meta: optional JSON-ready notes (e.g. the decoding length, the training summary), read back by
        :func:`load_meta`.

    Example:
      >>> import tempfile
      >>> cfg = OATConfig(n_rows=2, n_cols=2, d_model=8, n_heads=2, d_ff=8, n_encoder_layers=1,
      ...                 n_decoder_layers=1, appearance="none", pe_steps=10)
      >>> folder = save(Path(tempfile.mkdtemp()) / "m", OAT(cfg, key=jax.random.key(0)), meta={"note": 1})
      >>> load(folder).config == cfg, load_meta(folder)
      (True, {'note': 1})
    """
    path = Path(path)
    if meta is not None:
        atomic_write_text(path / "meta.json", json.dumps(meta, indent=2, default=float))
    train.save_pytree(path / "state.npz", nnx.state(model))
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
    nnx.update(model, train.load_pytree(path / "state.npz", nnx.state(model)))
    return model


def load_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The ``meta`` notes written by :func:`save` (empty when there are none)."""
    f = Path(path) / "meta.json"
    return json.loads(f.read_text()) if f.is_file() else {}


def config_to_dict(config: OATConfig) -> dict[str, Any]:
    """The config as a JSON-ready dict.

    Example:
      >>> config_to_dict(OATConfig())["d_model"]
      512
    """
    return json.loads(cfglib.to_json(config))
