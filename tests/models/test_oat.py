"""OAT: the positional code, pointer masking, PAD handling, cached decoding, sampling, save/load, learning."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from cogsim.errors import CogsimError, ConfigError
from cogsim.models import oat
from cogsim.models.oat._positional import _table_loss_and_grad

# d_model 24: the position code (12 dims) holds the row, column and is_target rows (4 dims each) uncut.
CFG = oat.OATConfig(
    n_rows=2,
    n_cols=3,
    d_model=24,
    n_heads=2,
    d_ff=24,
    n_encoder_layers=1,
    n_decoder_layers=1,
    appearance="embedding",
    n_appearance=4,
    pe_steps=500,
)
N = 6
EOS, PAD, BOS = N, N + 1, N + 2
# Shapes shared by the tests, so that each jitted function compiles once.
TARGETS = [4, 1, 5]
PATHS = [[0, 4], [3, 2, 1], [5]]
MAX_LEN, N_SAMPLES = 6, 32


def displays(targets):
    targets = np.asarray(targets)
    app = np.ones((len(targets), N), np.int32)
    app[np.arange(len(targets)), targets] = 2
    return oat.grid_displays(targets, n_rows=2, n_cols=3, appearance=app)


@pytest.fixture(scope="module")
def model():
    return oat.OAT(CFG, key=jax.random.key(0))


def test_positional_code_has_the_published_neighbour_cosines(model):
    cfg = oat.OATConfig()  # published: 6 x 14 grid, d_model 512 -> a 14 x 86 table
    assert (cfg.pe_rows, cfg.pe_dim) == (14, 86)
    w = oat.learn_positional_table(14, 86, sigma=2.0, steps=10_000, lr=0.01)
    np.testing.assert_allclose(
        oat.neighbour_cosines(w, 5), [1, 0.883, 0.607, 0.325, 0.135, 0.044], atol=0.002
    )
    norms = np.linalg.norm(w, axis=1)
    assert norms.std() / norms.mean() < 0.01  # the magnitude penalty keeps the rows equally long
    # an object's code concatenates the rows for its row, column and is_target flag, truncated to d/2
    table = np.asarray(model.table[...])
    code = np.asarray(model.position_code(jnp.array([1]), jnp.array([2]), jnp.array([True])))[0]
    np.testing.assert_allclose(code, np.concatenate([table[1], table[2], table[1]])[: CFG.d_position])


def test_positional_table_gradient_matches_autodiff():
    n, dim = 5, 4
    target = oat.gaussian_similarity(n, 2.0)
    w = np.random.default_rng(0).standard_normal((n, dim))

    def loss(w):
        wn = w / jnp.linalg.norm(w, axis=1, keepdims=True)
        norms = jnp.linalg.norm(w, axis=1)
        return (jnp.sum((wn @ wn.T - target) ** 2) + jnp.mean((norms - norms.mean()) ** 2)) / (n * (n - 1))

    value, grad = _table_loss_and_grad(w, target)
    assert value == pytest.approx(float(loss(jnp.asarray(w, jnp.float32))), rel=1e-5)
    np.testing.assert_allclose(grad, np.asarray(jax.grad(loss)(jnp.asarray(w, jnp.float32))), atol=1e-6)


def test_pointer_mask():
    m = np.asarray(oat.pointer_mask(jnp.zeros((2, 3, N + 2)), jnp.arange(3)[None, :]))
    assert np.all(m[:, 0, EOS] == oat.NEG)  # no EOS at the first step
    assert np.all(m[:, 1:, EOS] == 0.0)  # EOS allowed later
    assert np.all(m[..., PAD] == oat.NEG)  # PAD never
    assert np.all(m[..., :N] == 0.0)


def test_teacher_forced_logits_are_masked(model):
    seqs = oat.encode_scanpaths(PATHS, N, 3)
    logits = np.asarray(oat.teacher_forced_logits(model, displays(TARGETS), seqs[:, :-1]))
    assert logits.shape == (3, 4, N + 2)
    assert np.all(logits[:, 0, EOS] == oat.NEG)
    assert np.all(logits[:, 1:, EOS] > oat.NEG / 2)
    assert np.all(logits[..., PAD] == oat.NEG)


def test_no_eos_at_the_first_step_but_later(model):
    # With the pointer's encoder projections zeroed every valid slot scores the same: without the step-1 mask
    # EOS would be drawn at the first step with probability 1/7 (96 draws: P(never) < 1e-6).
    flat = model
    m = nnx.clone(flat)
    for lin in m.pointer.enc:
        lin.kernel.set_value(jnp.zeros_like(lin.kernel.get_value()))
        lin.bias.set_value(jnp.zeros_like(lin.bias.get_value()))
    paths = oat.sample(m, displays(TARGETS), key=jax.random.key(0), n_samples=N_SAMPLES, max_len=MAX_LEN)
    flat_paths = [p for per in paths for p in per]
    assert all(len(p) >= 1 for p in flat_paths)  # the first token is never EOS
    assert any(len(p) < MAX_LEN for p in flat_paths)  # EOS is drawn at later steps
    assert all(0 <= o < N for p in flat_paths for o in p)  # PAD / BOS / EOS never inside a scanpath


def test_loss_ignores_pad(model):
    d = displays(TARGETS)
    short = oat.encode_scanpaths(PATHS, N, 3)
    long = oat.encode_scanpaths(PATHS, N, 9)
    l_short = float(oat.teacher_forced_loss(model, d, short)[0])
    l_long = float(oat.teacher_forced_loss(model, d, long)[0])
    assert l_short == pytest.approx(l_long, rel=1e-5)
    # the mean NLL over exactly the non-PAD targets (fixations and EOS: 3 + 4 + 2 = 9)
    logp = jax.nn.log_softmax(oat.teacher_forced_logits(model, d, short[:, :-1]), axis=-1)
    tg = short[:, 1:]
    nll = [-float(logp[i, t, tg[i, t]]) for i in range(3) for t in range(tg.shape[1]) if tg[i, t] != PAD]
    assert len(nll) == 9
    assert l_short == pytest.approx(np.mean(nll), rel=1e-5)


def test_cached_decoding_matches_the_full_pass(model):
    d = displays(TARGETS)
    paths = oat.greedy(model, d, max_len=MAX_LEN)
    assert all(1 <= len(p) <= MAX_LEN for p in paths)
    seqs = oat.encode_scanpaths(paths, N, MAX_LEN)
    logits = np.asarray(oat.teacher_forced_logits(model, d, seqs[:, :-1]))
    for i, p in enumerate(paths):
        want = [*p, EOS] if len(p) < MAX_LEN else p
        assert np.argmax(logits[i], axis=-1).tolist()[: len(want)] == want


def test_sampling_batched_equals_looped_and_is_reproducible(model):
    d = displays(TARGETS)
    key = jax.random.key(3)
    a = oat.sample(model, d, key=key, n_samples=N_SAMPLES, max_len=MAX_LEN)
    b = oat.sample(model, d, key=key, n_samples=N_SAMPLES, max_len=MAX_LEN, loop="samples")
    c = oat.sample(model, d, key=key, n_samples=4, max_len=MAX_LEN, loop="scanpaths")
    assert a == b
    assert [x[:4] for x in a] == c
    assert len(a) == 3 and all(len(x) == N_SAMPLES for x in a)
    assert all(1 <= len(p) <= MAX_LEN and all(0 <= o < N for o in p) for x in a for p in x)
    # a display's draws do not depend on the other displays in the batch
    alone = oat.sample(model, d.take(np.array([0])), key=key, n_samples=N_SAMPLES, max_len=MAX_LEN)
    assert alone[0] == a[0]
    # dropping ended scanpaths from the batch every step or never changes no draw
    for every in (1, MAX_LEN):
        assert oat.sample(model, d, key=key, n_samples=N_SAMPLES, max_len=MAX_LEN, compact_every=every) == a
    assert oat.sample(model, d, key=jax.random.key(4), n_samples=N_SAMPLES, max_len=MAX_LEN) != a


def test_save_and_load_round_trip(model, tmp_path):
    oat.save(tmp_path / "m", model)
    with np.load(tmp_path / "m" / "state.npz") as z:  # cogsim.train's format: arrays named by their path
        assert "encoder/0/attn/q/kernel/value" in z.files and "table/value" in z.files
    back = oat.load(tmp_path / "m")
    assert back.config == model.config
    d = displays(TARGETS)
    seqs = oat.encode_scanpaths(PATHS, N, 3)[:, :-1]
    np.testing.assert_array_equal(
        np.asarray(oat.teacher_forced_logits(model, d, seqs)),
        np.asarray(oat.teacher_forced_logits(back, d, seqs)),
    )
    with pytest.raises(CogsimError, match="not found"):
        oat.load(tmp_path / "nothing")
    cfg = tmp_path / "m" / "config.json"
    cfg.write_text(cfg.read_text().replace('"d_model": 24', '"d_model": 32'))
    with pytest.raises(CogsimError, match="shape"):
        oat.load(tmp_path / "m")


def test_fit_learns_a_simple_rule():
    # Every training scanpath looks at the top-left object first, then at the target: after training, greedy
    # decoding on new displays reproduces that rule.
    rng = np.random.default_rng(0)
    targets = rng.integers(1, N, 60)
    data = oat.TrainData(
        displays(targets), oat.encode_scanpaths([[0, t] for t in targets], N, 2), np.arange(60)
    )
    val_t = np.array([1, 2, 3, 4, 5])
    res = oat.fit(
        oat.OAT(CFG, key=jax.random.key(1)),
        data,
        key=jax.random.key(2),
        epochs=30,
        batch_size=20,
        lr=1e-2,
        validation=(displays(val_t), [[[0, t]] for t in val_t]),
        patience=30,
        max_len=MAX_LEN,
        select="nll",
    )
    assert res.history[-1]["loss"] < 0.5 * res.history[0]["loss"]
    assert {"val_delta", "val_nll"} <= set(res.history[0]) and 1 <= res.best_epoch <= len(res.history)
    paths = oat.greedy(res.model, displays(val_t), max_len=MAX_LEN)
    assert sum(p == [0, t] for p, t in zip(paths, val_t, strict=True)) >= 4


def test_inputs_are_checked():
    with pytest.raises(ConfigError):
        oat.OATConfig(d_model=15).__post_validate__()
    with pytest.raises(ConfigError):
        oat.OAT(oat.OATConfig(appearance="cnn", crop_height=10, crop_width=10), key=jax.random.key(0))
    with pytest.raises(CogsimError, match="limit"):
        oat.encode_scanpaths([[1, 2, 3]], N, 2)
    with pytest.raises(CogsimError, match="outside"):
        oat.encode_scanpaths([[9]], N, 2)
    with pytest.raises(CogsimError, match="targets"):
        oat.grid_displays(np.array([7]), n_rows=2, n_cols=3)
    assert oat.length_filter([10] * 20 + [1000]).tolist() == [True] * 20 + [False]


def test_cnn_appearance_runs_on_crops():
    cfg = dataclasses.replace(
        CFG, d_model=16, d_ff=16, appearance="cnn", crop_height=14, crop_width=14, cnn_pool=(2, 3)
    )
    m = oat.OAT(cfg, key=jax.random.key(0))
    crops = np.random.default_rng(0).random((3, N, 14, 14, 3)).astype(np.float32)
    d = displays(TARGETS)._replace(appearance=crops)
    logits = np.asarray(oat.teacher_forced_logits(m, d, oat.encode_scanpaths(PATHS, N, 3)[:, :-1]))
    assert logits.shape == (3, 4, N + 2) and np.all(np.isfinite(logits))
    with pytest.raises(CogsimError, match="crops"):
        oat.teacher_forced_logits(m, displays(TARGETS), oat.encode_scanpaths(PATHS, N, 3)[:, :-1])
