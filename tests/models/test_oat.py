"""OAT: the positional code, pointer masking, PAD handling, cached decoding, sampling, save/load, learning."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cogsim.errors import CogsimError, ConfigError
from cogsim.models import oat

CFG = oat.OATConfig(n_rows=2, n_cols=3, d_model=16, n_heads=2, d_ff=16, n_encoder_layers=1, n_decoder_layers=1,
                    appearance="embedding", n_appearance=4, pe_steps=500)
N = 6
EOS, PAD, BOS = N, N + 1, N + 2


def displays(targets):
    targets = np.asarray(targets)
    app = np.ones((len(targets), N), np.int32)
    app[np.arange(len(targets)), targets] = 2
    return oat.grid_displays(targets, n_rows=2, n_cols=3, appearance=app)


@pytest.fixture(scope="module")
def model():
    return oat.OAT(CFG, key=jax.random.key(0))


def test_positional_code_has_the_published_neighbour_cosines():
    cfg = oat.OATConfig()  # published: 6 x 14 grid, d_model 512 -> a 14 x 86 table
    assert (cfg.pe_rows, cfg.pe_dim) == (14, 86)
    w = oat.learn_positional_table(14, 86, sigma=2.0, steps=10_000, lr=0.01)
    np.testing.assert_allclose(oat.neighbour_cosines(w, 5), [1, 0.883, 0.607, 0.325, 0.135, 0.044], atol=0.002)
    norms = np.linalg.norm(w, axis=1)
    assert norms.std() / norms.mean() < 0.01  # the magnitude penalty keeps the rows equally long
    # the model's object code concatenates rows for row, column and is_target, truncated to d/2
    m = oat.OAT(oat.OATConfig(d_model=64, n_heads=2, d_ff=8, n_encoder_layers=1, n_decoder_layers=1,
                              appearance="none", pe_steps=2000), key=jax.random.key(1))
    table = np.asarray(m.table[...])
    code = np.asarray(m.position_code(jnp.array([2]), jnp.array([5]), jnp.array([True])))[0]
    np.testing.assert_allclose(code, np.concatenate([table[2], table[5], table[1]])[:32], rtol=1e-6)


def test_pointer_mask():
    logits = jnp.zeros((2, 3, N + 2))
    m = np.asarray(oat.pointer_mask(logits, jnp.arange(3)[None, :]))
    assert np.all(m[:, 0, EOS] == oat.NEG)  # no EOS at the first step
    assert np.all(m[:, 1:, EOS] == 0.0)  # EOS allowed later
    assert np.all(m[..., PAD] == oat.NEG)  # PAD never
    assert np.all(m[..., :N] == 0.0)


def test_teacher_forced_logits_are_masked(model):
    d = displays([4, 1])
    seqs = oat.encode_scanpaths([[0, 4], [3, 2, 1]], N, 4)
    logits = np.asarray(model(oat._as_jax(d), jnp.asarray(seqs[:, :-1])))
    assert logits.shape == (2, 5, N + 2)
    assert np.all(logits[:, 0, EOS] == oat.NEG)
    assert np.all(logits[:, 1:, EOS] > oat.NEG / 2)
    assert np.all(logits[..., PAD] == oat.NEG)


def test_first_fixation_is_never_eos():
    # A display with a single object, the target: without the step-1 mask, EOS would be drawn about half the
    # time at the first step; with it, every sampled scanpath starts on the object.
    m = oat.OAT(CFG, key=jax.random.key(5))
    d = oat.Displays(np.zeros((1, 1), np.int32), np.zeros((1, 1), np.int32), np.zeros(1, np.int32),
                     np.full((1, 1), 2, np.int32))
    paths = oat.sample(m, d, key=jax.random.key(0), n_samples=64, max_len=4)[0]
    assert all(len(p) >= 1 and p[0] == 0 for p in paths)
    assert all(set(p) <= {0} for p in paths)  # PAD / BOS / EOS never appear inside a scanpath


def test_loss_ignores_pad(model):
    d = oat._as_jax(displays([4, 1, 5]))
    paths = [[0, 4], [3, 2, 1], [5]]
    short = jnp.asarray(oat.encode_scanpaths(paths, N, 3))
    long = jnp.asarray(oat.encode_scanpaths(paths, N, 9))
    l_short, _ = oat.sequence_loss(model, d, short)
    l_long, _ = oat.sequence_loss(model, d, long)
    assert float(l_short) == pytest.approx(float(l_long), rel=1e-5)
    # the mean NLL over exactly the non-PAD targets (fixations and EOS: 3 + 4 + 2 = 9)
    logp = jax.nn.log_softmax(model(d, short[:, :-1]), axis=-1)
    tg = np.asarray(short[:, 1:])
    nll = [-float(logp[i, t, tg[i, t]]) for i in range(3) for t in range(tg.shape[1]) if tg[i, t] != PAD]
    assert len(nll) == 9
    assert float(l_short) == pytest.approx(np.mean(nll), rel=1e-5)


def test_cached_decoding_matches_the_full_pass(model):
    d = displays([4, 1, 5, 0])
    paths = oat.greedy(model, d, max_len=6)
    assert all(1 <= len(p) <= 6 for p in paths)
    for i, p in enumerate(paths):
        seq = [BOS, *p]
        logits = np.asarray(model(oat._as_jax(d).take(jnp.array([i])), jnp.asarray([seq])))[0]
        want = [*p, EOS] if len(p) < 6 else p
        assert np.argmax(logits, axis=-1).tolist()[: len(want)] == want


def test_sampling_batched_equals_looped_and_is_reproducible(model):
    d = displays([4, 1, 5])
    key = jax.random.key(3)
    a = oat.sample(model, d, key=key, n_samples=6, max_len=6)
    b = oat.sample(model, d, key=key, n_samples=6, max_len=6, batched=False)
    c = oat.sample(model, d, key=key, n_samples=6, max_len=6)
    assert a == b == c
    assert len(a) == 3 and all(len(x) == 6 for x in a)
    assert all(1 <= len(p) <= 6 and all(0 <= o < N for o in p) for x in a for p in x)
    # a display's draws do not depend on the other displays in the batch
    alone = oat.sample(model, d.take(np.array([0])), key=key, n_samples=6, max_len=6)
    assert alone[0] == a[0]
    other = oat.sample(model, d, key=jax.random.key(4), n_samples=6, max_len=6)
    assert other != a


def test_save_and_load_round_trip(model, tmp_path):
    oat.save(tmp_path / "m", model)
    back = oat.load(tmp_path / "m")
    assert back.config == model.config
    d = displays([4, 1])
    seqs = jnp.asarray(oat.encode_scanpaths([[0, 4], [3, 1]], N, 3))
    np.testing.assert_array_equal(np.asarray(model(oat._as_jax(d), seqs)), np.asarray(back(oat._as_jax(d), seqs)))
    with pytest.raises(CogsimError, match="not found"):
        oat.load(tmp_path / "nothing")
    (tmp_path / "m" / "config.json").write_text((tmp_path / "m" / "config.json").read_text().replace(
        '"d_model": 16', '"d_model": 32'))
    with pytest.raises(CogsimError, match="shape"):
        oat.load(tmp_path / "m")


def test_fit_learns_a_simple_rule():
    # Every training scanpath looks at the top-left object first, then at the target: after training, greedy
    # decoding on new displays should reproduce that rule.
    rng = np.random.default_rng(0)
    targets = rng.integers(1, N, 60)
    data = oat.TrainData(displays(targets), oat.encode_scanpaths([[0, t] for t in targets], N, 2),
                         np.arange(60))
    val_t = np.array([1, 2, 3, 4, 5])
    res = oat.fit(oat.OAT(CFG, key=jax.random.key(1)), data, key=jax.random.key(2), epochs=40, batch_size=20,
                  lr=1e-2, validation=(displays(val_t), [[[0, t]] for t in val_t]), patience=40, max_len=4,
                  select="nll")
    assert res.history[-1]["loss"] < 0.5 * res.history[0]["loss"]
    assert {"val_delta", "val_nll"} <= set(res.history[0])
    paths = oat.greedy(res.model, displays(val_t), max_len=4)
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
    cfg = oat.OATConfig(n_rows=2, n_cols=3, d_model=16, n_heads=2, d_ff=16, n_encoder_layers=1,
                        n_decoder_layers=1, appearance="cnn", crop_height=14, crop_width=14, cnn_pool=(2, 3),
                        pe_steps=500)
    m = oat.OAT(cfg, key=jax.random.key(0))
    crops = np.random.default_rng(0).random((2, N, 14, 14, 3)).astype(np.float32)
    d = oat.grid_displays(np.array([1, 2]), n_rows=2, n_cols=3, appearance=crops)
    logits = m(oat._as_jax(d), jnp.asarray(oat.encode_scanpaths([[1], [0, 2]], N, 2)[:, :-1]))
    assert logits.shape == (2, 3, N + 2) and np.all(np.isfinite(np.asarray(logits)))
    with pytest.raises(CogsimError, match="crops"):
        m(oat._as_jax(displays([1])), jnp.asarray([[BOS]]))
