"""The feature front end of a search: a VGG16-layout backbone or the Gabor control, with its pooling geometry.

Example:
  >>> ex = Extractor.shipped("diet_normal", Geometry(ppd=10.0))
  >>> ex.kind, ex.name, ex == ex.with_geometry(Geometry(ppd=10.0))
  ('vgg', 'diet_normal', True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jaxtyping import Array, Float

from cogsim.models.eccnet import _backbone as bb
from cogsim.models.eccnet import _gabor, _weights
from cogsim.models.eccnet._backbone import Geometry


@dataclasses.dataclass(frozen=True, eq=False)
class Extractor:
    """The feature front end: a VGG16-layout backbone (``kind="vgg"``) or the Gabor control.

    Attributes:
      kind: "vgg" or "gabor".
      params: backbone parameters (None for the Gabor bank).
      preprocess: input mapping of the weights (see :data:`UNIT_PREPROCESS`).
      geometry: the pooling geometry (pixels per degree, eccentricity slopes).
      name: a label.
    """

    kind: str
    params: Any
    preprocess: Mapping[str, Any]
    geometry: Geometry
    name: str = ""

    @classmethod
    def vgg(
        cls, params: Any, meta: Mapping[str, Any] | None, geometry: Geometry, name: str = "vgg"
    ) -> Extractor:
        """A backbone from parameters and their ``meta`` record (from :func:`load_npz`)."""
        pre = dict((meta or {}).get("preprocess", bb.UNIT_PREPROCESS))
        return cls("vgg", params, pre, geometry, name)

    @classmethod
    def shipped(cls, name: str, geometry: Geometry) -> Extractor:
        """One of the backbones shipped with cogsim (e.g. ``"diet_normal"``)."""
        params, meta = _weights.shipped(name)
        return cls.vgg(params, meta, geometry, name)

    @classmethod
    def load(cls, weights: str, geometry: Geometry) -> Extractor:
        """A shipped backbone by name (e.g. ``"diet_normal"``), or a backbone .npz by path (Keras-named
        arrays are accepted, see :func:`load_npz`)."""
        if weights.endswith(".npz") or "/" in weights:
            params, meta = _weights.load_npz(Path(weights))
            return cls.vgg(params, meta, geometry, Path(weights).stem)
        return cls.shipped(weights, geometry)

    @classmethod
    def gabor(cls, geometry: Geometry) -> Extractor:
        """The training-free Gabor / luminance-gradient control."""
        return cls("gabor", None, dict(bb.UNIT_PREPROCESS), geometry, "gabor")

    def with_geometry(self, geometry: Geometry) -> Extractor:
        return dataclasses.replace(self, geometry=geometry)

    def _key(self):
        return (self.kind, self.geometry, tuple(sorted((k, str(v)) for k, v in self.preprocess.items())))

    # equal (and hashed) by everything but the parameter values, so that backbones of the same shape share
    # compiled code (the parameters are traced arguments)
    def __eq__(self, other):
        return isinstance(other, Extractor) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def _features(self, params, x, *, target: bool):
        x = bb.preprocess(x, self.preprocess)
        if self.kind == "gabor":
            return _gabor.gabor_features(x, self.geometry, target=target)
        fn = bb.target_features if target else bb.search_features
        return fn(params, x, self.geometry)

    def search_features(self, params, x: Float[Array, "b s s 3"]) -> tuple[Array, ...]:
        """Search readouts of raw 0-255 crops."""
        return self._features(params, x, target=False)

    def target_features(self, params, t: Float[Array, "b h h 3"]) -> tuple[Array, ...]:
        """Target readouts of raw 0-255 target images."""
        return self._features(params, t, target=True)
