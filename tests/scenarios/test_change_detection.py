import dataclasses

import jax
import numpy as np
import pytest

from cogsim import runner
from cogsim.scenarios import change_detection as cd
from tests.scenarios.tiny import tiny

TINY = tiny("change_detection")


@pytest.fixture(scope="module")
def sim():
    return cd.simulate(TINY, key=jax.random.key(0))


def test_human_table_matches_the_packaged_summary():
    import cogsim

    h = cd.reference().table
    summ = cogsim.data.load("rouder2008_summary")
    summ = summ[summ.p_change != "pooled"].astype({"p_change": float})
    m = h.merge(summ, left_on=["set_size", "p_change"], right_on=["set_size", "p_change"])
    assert len(m) == 9
    assert np.allclose(m.hit_rate_x, m.hit_rate_y, atol=1e-3)
    assert np.allclose(m.fa_rate_x, m.fa_rate_y, atol=1e-3)


def test_fit_comes_from_the_data(sim):
    par = sim[(sim.kind == "parameter") & (sim.participant == -1)].set_index("name")
    k = par.loc["K"]
    assert 2.0 < k.value < 4.5 and k.ci_low < k.value < k.ci_high
    comp = cd.compare(sim, cd.reference().table)
    assert comp.metric("K").value == k.value
    assert any(c.name.startswith("guessing rises with change probability") for c in comp.checks)
    assert comp.schema_problems() == [] or comp.schema_problems() == ["no data_kind"]


def test_checks_fail_when_the_predictions_are_off(sim):
    """The checks judge the predictions against the trials: rates shifted by 0.1 fail the agreement checks."""
    off = sim.copy()
    off.loc[off.kind == "condition", "hit_pred"] -= 0.1
    checks = {c.name: c for c in cd.compare(off, cd.reference().table).checks}
    assert not checks["hit and false-alarm rates reproduced (RMSE below 0.05)"].passed
    good = {c.name: c for c in cd.compare(sim, cd.reference().table).checks}
    assert good["hit and false-alarm rates reproduced (RMSE below 0.05)"].passed


def test_k_follows_the_data_when_the_data_change(monkeypatch):
    """Halving every hit count must lower the fitted capacity: K is fitted, not a constant."""
    real = cd._counts()
    worse = cd.capacity.Counts(
        real.set_size,
        real.block,
        real.is_change,
        real.n,
        np.where(real.is_change == 1, real.k * 0.8, real.k),
        real.p_change,
    )
    monkeypatch.setattr(cd, "_counts", lambda *a: worse)
    low = cd.simulate(TINY, key=jax.random.key(0))
    k_low = low[(low.kind == "parameter") & (low.participant == -1) & (low.name == "K")].value.iloc[0]
    monkeypatch.undo()
    base = cd.simulate(TINY, key=jax.random.key(0))
    k_base = base[(base.kind == "parameter") & (base.participant == -1) & (base.name == "K")].value.iloc[0]
    assert k_low < k_base - 0.3


def test_same_seed_same_numbers(sim):
    again = cd.simulate(TINY, key=jax.random.key(0))
    assert sim.equals(again)


def test_sweep_point_is_vectorisable():
    f = jax.vmap(lambda k, key: cd.sweep_point(dataclasses.replace(TINY, sim_K=k), key=key))
    out = f(np.array([1.0, 3.0, 6.0], np.float32), jax.random.split(jax.random.key(0), 3))
    ll = np.asarray(out["loglik"])
    assert ll[1] > ll[0]  # K = 3 explains the data better than K = 1


def test_run_writes_the_run_folder(tmp_path):
    res = runner.run(
        "change_detection",
        overrides=["n_boot=20", "fit_steps=300", "per_participant=false", "models=fixed_capacity"],
        out=tmp_path,
    )
    for f in ("run.json", "results.parquet", "comparison.json", "figure.png"):
        assert (res.folder / f).is_file()


def test_schema_table_gives_the_same_counts_as_the_packaged_reader():
    import cogsim
    from cogsim.models import capacity

    a = capacity.counts_from_trials(cogsim.data.load("rouder2008_change_detection"))
    b = cd._counts("rouder2008")
    for f in ("set_size", "block", "is_change", "n", "k"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
    assert a.p_change == b.p_change == (0.3, 0.5, 0.7)


def test_adam_and_a_user_csv_with_string_ids_and_no_base_rate(tmp_path):
    pytest.importorskip("cogsim.fit")  # the CSV reader of the change_detection paradigm
    adam = cd._counts("adam2015")
    assert sorted(set(adam.set_size.tolist())) == [2, 3, 4, 5, 6] and adam.n.shape[0] == 40
    t = cd.trials("adam2015").head(600).assign(subject=lambda d: "p" + d.subject.astype(str))
    t.to_csv(tmp_path / "mine.csv", index=False)
    cfg = cd.Config(data=str(tmp_path / "mine.csv"), n_boot=10, fit_steps=100, per_participant=False)
    sim = cd.simulate(cfg, key=jax.random.key(0))
    assert sim.attrs["data"] == cfg.data
    comp = cd.compare(sim, cd.reference().table)  # re-scored against the CSV's own trials
    own = cd.reference(cfg).table
    assert comp.metric("K").human == pytest.approx(float(own.query("set_size >= 5").cowan_k.mean()))
    with pytest.raises(cd.cfglib.ConfigError, match="data"):
        cd.cfglib.validate(cd.Config(data="nope"))


def test_log_odds_column_holding_probabilities_is_refused():
    import cogsim
    from cogsim.errors import DataError
    from cogsim.models import capacity

    r = cogsim.data.load("rouder2008_change_detection").head(50)
    with pytest.raises(DataError, match="'prch'.*probability"):
        capacity.counts_from_trials(r.assign(prch=0.3))


def _binomial_trials(rate_of, *, n_subjects=20, per_cell=40, seed=0):
    """Trials drawn from known P("change") per cell: set sizes 1-8 x base rates 0.3/0.5/0.7 x change/same."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for sub in range(n_subjects):
        for n in range(1, 9):
            for base in (0.3, 0.5, 0.7):
                for change in (1, 0):
                    resp = rng.random(per_cell) < rate_of(n, base, change)
                    rows += [(f"s{sub}", n, base, change, int(r == change)) for r in resp]
    return pd.DataFrame(rows, columns=["subject", "set_size", "base_rate", "change", "correct"])


def test_split_halves_partition_every_cell():
    from cogsim.models import capacity
    from cogsim.scenarios._change_detection_checks import split_halves

    t = cd.trials("adam2015")
    counts = capacity.counts_from_table(t)
    k_a, n_a, k_b, n_b = split_halves(t)
    assert np.array_equal(k_a + k_b, counts.k) and np.array_equal(n_a + n_b, counts.n)
    assert np.abs(n_a - n_b).max() <= 1  # odd and even trials of each participant's cell


def test_noise_ceiling_is_about_two_for_the_true_rates_and_low_for_wrong_ones():
    """The metric's declared meaning (docs page): true rates score about 2, rates off by 0.1 far below 1."""
    from cogsim.models import capacity
    from cogsim.scenarios._change_detection_checks import Resamples, split_halves

    def truth(n, base, change):  # a fixed-capacity observer (K = 3) guessing at the base rate
        known = min(1.0, 3 / n)
        return known + (1 - known) * base if change else (1 - known) * base

    scores, off = [], []
    for seed in range(12):  # the expectation, over data sets drawn from the truth
        t = _binomial_trials(truth, seed=seed)
        counts = capacity.counts_from_table(t)
        boot = Resamples(counts, [8], split_halves(t))
        cells = zip(counts.set_size, counts.block, counts.is_change, strict=True)
        true_rates = np.array([truth(n, counts.p_change[b], c) for n, b, c in cells])
        everyone = np.arange(boot.n_units)
        scores.append(boot.ceiling(everyone, true_rates))
        off.append(boot.ceiling(everyone, np.clip(true_rates + 0.1, 0, 1)))
    assert 1.6 < np.mean(scores) < 2.4
    assert max(off) < 0.3
