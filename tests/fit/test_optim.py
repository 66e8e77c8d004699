import jax.numpy as jnp
import numpy as np

from cogsim.fit import _optim


def two_loop_reference(s: np.ndarray, y: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``-H g`` by the textbook two-loop recursion in float64 (Nocedal & Wright, Algorithm 7.4), pairs with
    ``s.y <= 0`` skipped, ``H0 = (s.y / y.y) I`` of the newest pair (``I`` when that pair is skipped)."""
    keep = [i for i in range(len(s)) if s[i] @ y[i] > 0]
    q, alpha = g.copy(), {}
    for i in reversed(keep):
        alpha[i] = (s[i] @ q) / (s[i] @ y[i])
        q = q - alpha[i] * y[i]
    last = len(s) - 1
    r = q * ((s[last] @ y[last]) / (y[last] @ y[last]) if last in keep else 1.0)
    for i in keep:
        r = r + s[i] * (alpha[i] - (y[i] @ r) / (s[i] @ y[i]))
    return -r


def test_two_loop_matches_the_textbook_recursion_with_empty_and_skipped_pairs():
    rng = np.random.default_rng(3)
    k = 4
    for n_empty, flip in ((0, ()), (4, ()), (2, (5, 8)), (0, (_optim.MEMORY - 1,))):
        s = rng.normal(size=(_optim.MEMORY, k))
        y = s + 0.3 * rng.normal(size=(_optim.MEMORY, k))  # mostly s.y > 0
        for i in flip:  # a pair with s.y < 0 is skipped
            y[i] = -s[i]
        s[:n_empty], y[:n_empty] = 0.0, 0.0  # empty slots (the memory fills from the newest end)
        g = rng.normal(size=k)
        mem = jnp.asarray(np.stack([s, y]), jnp.float32)
        got = np.asarray(_optim._two_loop(mem, jnp.asarray(g, jnp.float32)), float)
        want = two_loop_reference(np.asarray(mem, float)[0], np.asarray(mem, float)[1], g)
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-5)
        assert got @ g < 0  # a descent direction for these well-conditioned pairs
