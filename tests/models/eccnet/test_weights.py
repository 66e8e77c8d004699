"""eccNET backbone weights: the Keras loader (nested, flat, .npz), the pickle-free round trip, bad shapes."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from cogsim.errors import CogsimError
from cogsim.models import eccnet
from cogsim.tasks import search_displays as sd


def _synthetic_keras(widths=(4, 4, 8, 8, 8), seed=0):
    rng = np.random.default_rng(seed)
    w, cin = {}, 3
    for name in eccnet.LAYER_NAMES:
        out = widths[int(name[5]) - 1]
        w[name] = {
            "kernel": rng.normal(size=(3, 3, cin, out)).astype(np.float32) * 0.2,
            "bias": rng.normal(size=(out,)).astype(np.float32) * 0.1,
        }
        cin = out
    return w


def test_keras_loader_nested_flat_and_npz_roundtrip(tmp_path):
    nested = _synthetic_keras()
    p1 = eccnet.from_keras(nested)
    flat = {f"{n}/{k}": v[k] for n, v in nested.items() for k in ("kernel", "bias")}
    flat["fc1/kernel"] = np.zeros((2, 2))  # ignored
    p2 = eccnet.from_keras(flat)
    p3 = eccnet.from_keras({n: [v["kernel"], v["bias"]] for n, v in nested.items()})
    assert eccnet.widths_of(p1) == (4, 4, 8, 8, 8)
    for n in eccnet.LAYER_NAMES:
        np.testing.assert_array_equal(p1[n]["kernel"], p2[n]["kernel"])
        np.testing.assert_array_equal(p1[n]["bias"], p3[n]["bias"])
    # Keras-named arrays without a meta record load as ImageNet (caffe) weights
    np.savez(tmp_path / "vgg.npz", **flat)
    p4, meta = eccnet.load_npz(tmp_path / "vgg.npz")
    assert meta["preprocess"]["bgr"] is True
    np.testing.assert_array_equal(p4["block5_conv3"]["kernel"], p1["block5_conv3"]["kernel"])
    eccnet.save_npz(tmp_path / "b.npz", p1, meta={"preprocess": eccnet.UNIT_PREPROCESS}, dtype="float32")
    p5, meta5 = eccnet.load_npz(tmp_path / "b.npz")
    assert meta5["preprocess"]["bgr"] is False
    np.testing.assert_array_equal(p5["block2_conv2"]["bias"], p1["block2_conv2"]["bias"])
    # the loaded weights run in the search model
    geo = eccnet.Geometry(ppd=10.0)
    ex = eccnet.Extractor.vgg(p4, meta, geo)
    t = sd.make_trials(
        sd.EXPERIMENTS[2],
        key=jax.random.key(0),
        ppd=10.0,
        n_trials=1,
        set_sizes=(6,),
        conditions=("top_down",),
    )
    res = eccnet.search(ex, t, eccnet.SearchConfig())
    assert 1 <= res["n_saccades"].iloc[0] <= 17


def test_keras_loader_rejects_bad_shapes():
    w = _synthetic_keras()
    w["block3_conv2"]["kernel"] = np.zeros((3, 3, 5, 8))
    with pytest.raises(CogsimError, match="block3_conv2"):
        eccnet.from_keras(w)
    del w["block3_conv2"]
    with pytest.raises(CogsimError, match="missing"):
        eccnet.from_keras(w)


def test_configs_refuse_a_zero_learning_rate_and_negative_rt_mapping():
    import dataclasses

    from cogsim import config
    from cogsim.errors import ConfigError

    for cfg, field, value in [
        (eccnet.DietConfig(), "lr", 0.0),
        (eccnet.SearchConfig(), "rt_slope", 0.0),
        (eccnet.SearchConfig(), "rt_slope", -1.0),
        (eccnet.SearchConfig(), "rt_intercept", -1.0),
    ]:
        with pytest.raises(ConfigError, match=f"'{field}': got {value}"):
            config.validate(dataclasses.replace(cfg, **{field: value}))
    assert config.validate(eccnet.DietConfig(steps=0)).steps == 0  # an untrained backbone stays allowed
