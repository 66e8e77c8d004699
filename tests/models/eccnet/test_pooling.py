"""eccNET's eccentricity-dependent pooling: window geometry against the published formula, the op against a
brute-force pooling (to the bit)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from cogsim.models import eccnet

PUBLISHED = [  # (block, deg2px at 30 px/deg, slope)
    (3, 8, 0.07),
    (4, 4, 0.16),
    (5, 2, 0.32),
]


@pytest.mark.parametrize("block,deg2px,slope", PUBLISHED)
def test_pooling_window_by_eccentricity_follows_published_formula(block, deg2px, slope):
    geo = eccnet.Geometry(ppd=30.0)
    assert geo.deg2px(block) == deg2px
    in_size = 806 // 2 ** (block - 1) + 1  # the Exp 1 crop at this stage (806, 403, 202, 101, 51)
    plan = geo.plan(block, in_size)
    out = plan.out_size
    c = out // 2
    fovea = round(4 * deg2px / 2)  # output px
    step = round(deg2px / 2)
    for r in range(0, out - c):
        # independent formula: the ring whose outer radius is the first ecc > r on the grid fovea + k * step
        if r < fovea:
            expected = 2
        else:
            k = (r - fovea) // step + 1
            ecc = fovea + k * step
            if ecc >= out / 2:  # beyond the last full ring: the outer ring's window
                ecc = fovea + step * int(np.ceil((out / 2 - fovea) / step))
                ecc = ecc if ecc >= out / 2 else ecc + step
            expected = 2 + round(slope * (2 * ecc - 4 * deg2px))
        assert plan.windows[c, c + r] == expected, (r, plan.windows[c, c + r], expected)
    # windows grow with eccentricity and are 2 in the fovea
    row = plan.windows[c, c:]
    assert row[0] == 2 and np.all(np.diff(row) >= 0) and row[-1] > 2


def test_rings_in_degrees_fovea_4_deg_ring_1_deg():
    rings = eccnet.ring_windows(101, deg2px=8, slope=0.07)
    # one output pixel = 2 input pixels = 2/8 deg
    assert rings[0].outer * 2 / 8 == 4.0
    assert {r.outer - r.inner for r in rings[1:-1]} == {4.0}  # 4 output px = 1 deg


def test_uniform_geometry_and_small_maps_pool_uniformly():
    assert eccnet.Geometry(eccentricity=False).plan(5, 51).windows.max() == 2
    assert eccnet.Geometry().plan(5, 6).windows.max() == 2  # a target image: the fovea covers it


def _brute_pool(x, plan):
    n, out, s = plan.in_size, plan.out_size, plan.stride
    res = np.zeros((out, out, x.shape[-1]))
    for i in range(out):
        for j in range(out):
            k = plan.windows[i, j]
            lo = max((out - 1) * s + k - n, 0) // 2
            r0, c0 = i * s - lo, j * s - lo
            win = x[max(r0, 0) : min(r0 + k, n), max(c0, 0) : min(c0 + k, n)]
            res[i, j] = win.reshape(-1, x.shape[-1]).mean(0)
    return res


@pytest.mark.parametrize("n", [37, 40])
def test_ecc_avg_pool_matches_brute_force(n):
    x = np.random.default_rng(0).normal(size=(n, n, 2)).astype(np.float32)
    plan = eccnet.pooling_plan(n, deg2px=4, slope=0.3, fovea=2)
    assert len({r.window for r in plan.rings}) > 2
    got = np.asarray(eccnet.ecc_avg_pool(jnp.asarray(x)[None], plan))[0]
    np.testing.assert_allclose(got, _brute_pool(x, plan), rtol=1e-5, atol=1e-5)
    # and to the bit: float32 sums of each window's rows, then of those sums, in order (as reduce_window),
    # times the reciprocal of the count (XLA divides by a constant that way)
    out, s = plan.out_size, plan.stride
    for i, j in [(0, 0), (out // 2, out // 2), (out - 1, 3), (5, out - 2), (out - 1, out - 1)]:
        k = plan.windows[i, j]
        lo = max((out - 1) * s + k - n, 0) // 2
        rows = [r for r in range(i * s - lo, i * s - lo + k) if 0 <= r < n]
        cols = [c for c in range(j * s - lo, j * s - lo + k) if 0 <= c < n]
        total = np.zeros(2, np.float32)
        for c in cols:
            col = np.zeros(2, np.float32)
            for r in rows:
                col = col + x[r, c]
            total = total + col
        np.testing.assert_array_equal(got[i, j], total * (np.float32(1) / np.float32(len(rows) * len(cols))))
