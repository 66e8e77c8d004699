"""The developmental diet's generators: the rotated diet is the normal one turned by 90 degrees; shading of
bumps and dents follows the light."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cogsim.errors import CogsimError
from cogsim.tasks import diets


def test_rotated_diet_is_the_normal_diet_turned_by_90_degrees():
    labels = jnp.arange(diets.N_CLASSES)
    keys = jax.random.split(jax.random.key(3), diets.N_CLASSES)
    imgs = {}
    for diet in ("normal", "rot90"):
        imgs[diet] = np.asarray(
            jax.jit(jax.vmap(lambda k, y, d=diet: diets.diet_image(k, y, diet=d, image_size=32)))(
                keys, labels
            )
        )
    np.testing.assert_allclose(np.rot90(imgs["normal"], axes=(1, 2)), imgs["rot90"], atol=1e-6)


def test_a_bump_lit_from_above_is_brighter_on_top_and_a_dent_below():
    n = 48
    for dent in (False, True):
        f = jax.jit(jax.vmap(lambda k, d=dent: diets.shaded_spheres(k, n, dent=d, azimuth=0.0, n_spheres=1)))
        imgs = np.asarray(f(jax.random.split(jax.random.key(0), 8)))
        for img in imgs:
            ys, xs = np.nonzero(np.abs(img - img[0, 0]) > 1e-6)
            mid = np.median(ys)
            upper = img[ys[ys < mid], xs[ys < mid]].mean()
            lower = img[ys[ys > mid], xs[ys > mid]].mean()
            assert (upper > lower) != dent


def test_batches_are_seeded_labelled_and_in_the_pixel_range():
    # jitted: one compilation of the whole batch instead of one per operation
    batch = jax.jit(diets.diet_batch, static_argnames=("batch_size", "diet", "image_size"))
    a = batch(jax.random.key(0), batch_size=12, diet="isotropic", image_size=32)
    b = batch(jax.random.key(0), batch_size=12, diet="isotropic", image_size=32)
    np.testing.assert_array_equal(a[0], b[0])
    x, y = np.asarray(a[0]), np.asarray(a[1])
    assert x.shape == (12, 32, 32, 3) and 0 <= x.min() and x.max() <= 255
    assert set(y.tolist()) <= set(range(diets.N_CLASSES))


def test_an_unknown_diet_is_refused():
    with pytest.raises(CogsimError, match="diet"):
        diets.diet_image(jax.random.key(0), 0, diet="sideways")


def test_bad_labels_sizes_and_batch_sizes_are_refused():
    key = jax.random.key(0)
    for label in (6, -1):  # before: clamped to class 5 (or wrapped) silently
        with pytest.raises(CogsimError, match=f"label={label} is not allowed; allowed: a class 0..5"):
            diets.diet_image(key, label, image_size=8)
    # before: a ZeroDivisionError
    with pytest.raises(CogsimError, match="diet_image: got image_size=0; allowed: an integer >= 1"):
        diets.diet_image(key, 1, image_size=0)
    # before: a raw TypeError
    with pytest.raises(CogsimError, match="diet_batch: got batch_size=-1; allowed: an integer >= 0"):
        diets.diet_batch(key, batch_size=-1, image_size=8)
    traced = jax.jit(lambda y: diets.diet_image(key, y, image_size=8))(jnp.int32(2))  # traced: not checked
    np.testing.assert_allclose(traced, diets.diet_image(key, 2, image_size=8), atol=1e-5)
