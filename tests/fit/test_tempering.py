"""Replica exchange (`cogsim.fit._tempering`, `sample(n_temperatures=...)`): the weights of separated modes
that plain HMC does not cross, a real participant's capacity posterior against the same posterior on a grid,
and the command line."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim import cli
from cogsim.errors import CogsimError
from cogsim.fit import _hmc, _tempering, sample, temperatures_for

KEY = jax.random.key(0)


def _two_modes(u):
    # weight 0.3 (sd 1) at -6 and 0.7 (sd 0.5) at +6: 12 apart, with different widths, so that an exchange
    # rule with a wrong term (the prior, a temperature the wrong way round) gives other weights
    a = jnp.log(0.3) - 0.5 * jnp.sum((u + 6.0) ** 2)
    b = jnp.log(0.7) - 0.5 * jnp.sum(((u - 6.0) / 0.5) ** 2) - jnp.log(0.5)
    return jnp.logaddexp(a, b)


def _wide_prior(u):
    return -0.5 * jnp.sum((u / 10.0) ** 2)


def _exact_right_mass() -> float:
    x = np.linspace(-40.0, 40.0, 400_001)
    lp = np.asarray(
        jax.vmap(lambda v: _two_modes(v[None]) + _wide_prior(v[None]))(jnp.asarray(x)), np.float64
    )
    w = np.exp(lp - lp.max())
    return float(w[x > 0].sum() / w.sum())


def test_the_ladder_runs_from_one_to_the_hottest_evenly_in_log():
    b = np.asarray(_tempering.ladder(5, 1e-4))
    np.testing.assert_allclose(b, [1.0, 1e-1, 1e-2, 1e-3, 1e-4], rtol=1e-5)
    assert np.asarray(_tempering.ladder(1, 0.5)).tolist() == [1.0]


def test_separated_modes_get_their_weights_where_plain_hmc_stays_in_one():
    exact = _exact_right_mass()  # 0.70
    keys = jax.random.split(KEY, 4)
    start = jnp.full(1, -6.0)  # every chain starts in the lighter mode
    run = lambda k: _tempering.run(  # noqa: E731
        _two_modes, _wide_prior, start, betas=_tempering.ladder(6, 0.01), key=k, n_warmup=500, n_samples=2000
    )
    tempered = jax.vmap(run)(keys)
    right = float((np.asarray(tempered.u[..., 0]) > 0).mean())
    assert abs(right - exact) < 0.08, (right, exact)
    assert float(tempered.swap_rate.min()) > 0.2
    assert not np.asarray(tempered.divergent).any()
    plain = jax.vmap(
        lambda k: _hmc.run(
            lambda u: _two_modes(u) + _wide_prior(u), start, key=k, n_warmup=500, n_samples=2000
        )
    )(keys)
    assert float((np.asarray(plain.u[..., 0]) > 0).mean()) < 0.05  # the contrast: HMC alone stays


def test_the_warm_up_closes_a_gap_in_the_ladder_that_an_even_ladder_keeps():
    # in 4 dimensions, modes of weights 0.3 and 0.7 at -4 and +4 in every coordinate, the same width: with
    # the symmetric prior the exact mass of u[0] > 0 is 0.7. The ladder starts with four rungs near beta = 1
    # and a gap from 0.6 to 0.001 that the states hardly ever exchange across
    def modes(u):
        a = jnp.log(0.3) - 0.5 * jnp.sum((u + 4.0) ** 2)
        return jnp.logaddexp(a, jnp.log(0.7) - 0.5 * jnp.sum((u - 4.0) ** 2))

    betas = jnp.asarray([1.0, 0.9, 0.8, 0.7, 0.6, 0.001])
    keys = jax.random.split(KEY, 4)

    def chains(adapt):
        run = lambda k: _tempering.run(  # noqa: E731
            modes, _wide_prior, jnp.full(4, -4.0), betas=betas, key=k, n_warmup=1000, n_samples=2000,
            adapt_ladder=adapt,
        )  # fmt: skip
        return jax.vmap(run)(keys)

    fixed, tuned = chains(False), chains(True)
    np.testing.assert_array_equal(np.asarray(fixed.betas), np.broadcast_to(betas, (4, 6)))
    assert float(fixed.swap_rate[:, -1].max()) < 0.05  # the contrast: the gap stays
    assert float((np.asarray(fixed.u[..., 0]) > 0).mean()) < 0.5  # and the weights are wrong
    b = np.asarray(tuned.betas)
    assert (b[:, 0] == 1.0).all() and np.allclose(b[:, -1], 0.001) and (np.diff(b, axis=1) < 0).all()
    assert float(tuned.swap_rate.min()) > 0.2, np.asarray(tuned.swap_rate)
    right = float((np.asarray(tuned.u[..., 0]) > 0).mean())
    assert abs(right - 0.7) < 0.08, right


def test_retuning_moves_rungs_into_the_pairs_that_rarely_exchange():
    b = np.asarray(_tempering.ladder(5, 1e-4))
    same = np.asarray(_tempering.retuned(jnp.asarray(b), jnp.full(4, 0.4)))
    np.testing.assert_allclose(same, b, rtol=1e-5)  # equal rates: the ladder stays
    moved = np.asarray(_tempering.retuned(jnp.asarray(b), jnp.asarray([0.9, 0.9, 0.9, 0.0])))
    assert moved[0] == 1.0 and moved[-1] == pytest.approx(1e-4) and (np.diff(moved) < 0).all()
    assert (moved[1:-1] < b[1:-1]).all()  # every inner rung moves towards the hot pair's gap
    assert moved[-2] / moved[-1] < b[-2] / b[-1]  # which narrows


def test_a_capacity_posterior_on_real_trials_agrees_with_the_grid():
    # Zhang & Luck's participant 1 under slots_averaging, uniform priors: on a grid, nearly all the mass lies
    # at K in [1, 2); plain HMC's chains settle in [2, 3) (docs/fitting_log.md, "Replica exchange for
    # posteriors with separated modes"), so the model samples with 8 temperatures unless told otherwise
    from cogsim.fit._data import pack
    from cogsim.fit._loo import loglik_at
    from cogsim.models import paradigms
    from cogsim.scenarios.delayed_estimation import trials

    data = trials("zhang_luck2008")
    data = data[data.subject == sorted(data.subject.unique())[0]]
    model = paradigms.get("delayed_estimation").models["slots_averaging"]
    packed = pack(data, model, by=("subject",))
    t = {name: a[0] for name, a in packed.trials.items()}
    mask = np.asarray(packed.mask[0])
    ks = np.arange(0.025, 8.0, 0.05)
    edges = np.exp(np.linspace(np.log(0.02), np.log(4.0), 81))
    sds = np.sqrt(edges[:-1] * edges[1:])
    grid = np.stack(np.meshgrid(ks, sds, indexing="ij"), -1).reshape(-1, 2).astype(np.float32)
    ll = np.asarray(jax.jit(loglik_at(model))(grid, t))[:, mask].sum(axis=1).astype(np.float64)
    lp = ll.reshape(len(ks), len(sds)) + np.log(np.diff(edges))[None]
    w = np.exp(lp - lp.max()).sum(axis=1)
    grid_mass = np.bincount(np.floor(ks).astype(int), weights=w / w.sum(), minlength=8)

    def distance(res):  # total variation between the draws' segment masses of K and the grid's
        k = res.draws[0, ..., 0].ravel()
        mass = np.bincount(np.minimum(np.floor(k), 7).astype(int), minlength=8) / k.size
        return 0.5 * np.abs(mass - grid_mass).sum()

    settings = {"n_warmup": 150, "n_samples": 150, "key": KEY}
    res = sample(model, data, **settings)  # the model's own default: 8 temperatures
    assert res.settings["n_temperatures"] == 8
    assert distance(res) < 0.1, distance(res)
    plain = sample(model, data, n_temperatures=1, **settings)  # the contrast: plain HMC's chains, same key
    assert distance(plain) > 0.3
    assert 0.0 < res.summary.min_swap_rate.iloc[0] <= 1.0
    assert res.swap_rate.shape == (1, 4, 7)  # units, chains, neighbouring pairs
    assert res.swap_rate.min() == res.summary.min_swap_rate.iloc[0] and res.swap_rate.max() <= 1.0
    assert plain.swap_rate is None
    barrier = (1.0 - res.swap_rate[0]).sum(axis=1).mean()  # pairs' rejections summed, chains averaged
    assert res.summary.barrier.iloc[0] == pytest.approx(barrier) and 0.0 < barrier < 7.0


def test_one_temperature_is_plain_hmc():
    df = pd.DataFrame({"subject": 1, "y": [1.0] * 9 + [0.0] * 5})

    class Coin:
        from cogsim.fit import Param

        name, params = "coin", (Param("p", 0.0, 1.0, default=0.5),)

        def loglik(self, q, t):
            return jnp.where(t["y"] > 0, jnp.log(q["p"]), jnp.log1p(-q["p"]))

    settings = {"n_warmup": 50, "n_samples": 50, "key": KEY}
    one = sample(Coin(), df, n_temperatures=1, **settings)
    np.testing.assert_array_equal(one.draws, sample(Coin(), df, **settings).draws)
    assert "min_swap_rate" not in one.summary
    three = sample(Coin(), df, n_temperatures=3, **settings)
    assert not np.array_equal(three.draws, one.draws)
    assert one.betas is None and three.betas.shape == (1, 4, 3)  # units, chains, rungs
    np.testing.assert_allclose(
        three.betas[..., [0, -1]], np.broadcast_to([1.0, 1 / 14], (1, 4, 2)), rtol=1e-5
    )
    assert three.settings["adapt_ladder"] is True and one.settings["adapt_ladder"] is None
    with pytest.raises(CogsimError, match="sample adapt_ladder: got 'no'; allowed: True or False"):
        sample(Coin(), df, n_temperatures=3, adapt_ladder="no", **settings)
    with pytest.raises(CogsimError, match="sample n_temperatures: got 'many'; allowed: an integer >= 1"):
        sample(Coin(), df, n_temperatures="many", **settings)


def test_the_command_line_samples_with_temperatures(toy_paradigm, csv, tmp_path, capsys, toy):
    toy_paradigm.models["vm_bounded"] = toy.Bounded()
    out = tmp_path / "o"
    args = ["fit", "toy_estimation", "--data", str(csv), "--models", "vm_bounded", "--ci", "none"]
    rc = cli.main([*args, "--sample", "100", "--sample-temperatures", "3", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "lowest exchange rate" in printed
    summary = pd.read_parquet(out / "posterior_summary.parquet")
    assert summary.min_swap_rate.between(0.0, 1.0).all()
    entry = json.loads((out / "comparison.json").read_text())["posterior"]
    assert entry["n_temperatures"] == 3 and entry["models"]["vm_bounded"]["n_temperatures"] == 3
    assert entry["models"]["vm_bounded"]["min_swap_rate"] == pytest.approx(summary.min_swap_rate.min())
    barrier = entry["models"]["vm_bounded"]["max_barrier"]
    assert barrier == pytest.approx(summary.barrier.max())
    needed = entry["models"]["vm_bounded"]["temperatures_for_barrier"]
    assert needed == temperatures_for(barrier)
    assert ("would keep each pair's rejection at most 0.5" in printed) == (needed > 3)
    assert entry["models"]["vm_bounded"]["ladder"] == "tuned"
    assert json.loads((out / "run.json").read_text())["config"]["sample_temperatures"] == 3
    rc = cli.main([*args, "--sample", "100", "--sample-temperatures", "auto", "--out", str(tmp_path / "a")])
    assert rc == 0, capsys.readouterr().err
    entry = json.loads((tmp_path / "a" / "comparison.json").read_text())["posterior"]
    runs = entry["models"]["vm_bounded"]["auto_runs"]
    assert entry["n_temperatures"] == "auto" and runs[0]["n_temperatures"] == 2
    assert entry["models"]["vm_bounded"]["n_temperatures"] == runs[-1]["n_temperatures"]
    assert json.loads((tmp_path / "a" / "run.json").read_text())["config"]["sample_temperatures"] == "auto"


def test_auto_asks_for_the_barriers_temperatures_or_twice_as_many():
    from cogsim.fit import auto_temperatures
    from cogsim.fit._tempering import MAX_TEMPERATURES

    assert auto_temperatures(2, 0.4) is None  # temperatures_for(0.4) = 2: enough
    assert auto_temperatures(2, 0.9) == 4  # asks for 3; a 2-rung ladder measures at most 1: twice as many
    assert auto_temperatures(4, 5.2) == 12  # asks for 12, more than twice 4
    assert auto_temperatures(8, 3.4) is None
    assert auto_temperatures(48, 40.0) == MAX_TEMPERATURES  # asks for 81: capped
    assert auto_temperatures(MAX_TEMPERATURES, 60.0) is None  # nothing more to give


def test_auto_samples_again_with_more_temperatures_while_the_barrier_asks_for_them():
    # Zhang & Luck's participant 1 under slots_averaging (a capacity posterior with separated modes, see
    # test_a_capacity_posterior_on_real_trials_agrees_with_the_grid) started from 2 temperatures
    import dataclasses

    from cogsim.fit import auto_temperatures
    from cogsim.fit._tempering import AUTO_RUNS
    from cogsim.models import paradigms
    from cogsim.scenarios.delayed_estimation import trials

    data = trials("zhang_luck2008")
    data = data[data.subject == sorted(data.subject.unique())[0]]
    model = dataclasses.replace(
        paradigms.get("delayed_estimation").models["slots_averaging"], sample_temperatures=1
    )
    res = sample(model, data, n_warmup=40, n_samples=40, n_temperatures="auto", key=KEY)
    runs = res.settings["auto_runs"]
    assert runs[0]["n_temperatures"] == 2 and 1 <= len(runs) <= AUTO_RUNS
    for before, after in zip(runs, runs[1:], strict=False):
        assert after["n_temperatures"] == auto_temperatures(before["n_temperatures"], before["max_barrier"])
    last = runs[-1]
    assert res.settings["n_temperatures"] == last["n_temperatures"]
    assert last["max_barrier"] == pytest.approx(res.summary.barrier.max())
    assert auto_temperatures(last["n_temperatures"], last["max_barrier"]) is None or len(runs) == AUTO_RUNS
    assert res.settings["auto_stopped"] == (
        auto_temperatures(last["n_temperatures"], last["max_barrier"]) is not None
    )
    assert len(runs) > 1  # 2 rungs cannot measure this posterior's barrier (above 1)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--sample", "100", "--sample-temperatures", "many"],
            "got 'many'; allowed: an integer from 1 to 64, or auto",
        ),
        (["--sample-temperatures", "2"], "fit --sample-temperatures: got 2 without --sample"),
        (["--sample", "100", "--sample-temperatures", "0"], "fit --sample-temperatures: got 0; allowed: an"),
        (["--sample", "100", "--sample-temperatures", "65"], "allowed: an integer from 1 to 64"),
    ],
)
def test_bad_temperatures_exit_2_with_one_line(toy_paradigm, csv, tmp_path, capsys, extra, message):
    rc = cli.main(["fit", "toy_estimation", "--data", str(csv), "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_temperatures_for_a_barrier_keep_each_pair_rejected_at_most_half_the_time():
    for barrier in (0.0, 0.4, 0.5, 0.51, 1.7, 3.5, 10.2):
        r = temperatures_for(barrier)
        assert r >= 2 and barrier / (r - 1) <= 0.5  # equal shares of the barrier per pair
        assert r == 2 or barrier / (r - 2) > 0.5  # one fewer would not
    for bad in (-0.1, float("nan"), float("inf"), "3", None):  # text and None: TypeErrors before 2026-12-07
        with pytest.raises(CogsimError, match="temperatures_for barrier: got"):
            temperatures_for(bad)
    assert temperatures_for(np.float32(3.2)) == 8
