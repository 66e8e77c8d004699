"""The delayed-estimation scenario on tiny settings (two participants, two models, one start)."""

import jax
import numpy as np
import pytest

pytest.importorskip("cogsim.fit")

from cogsim import config as cfglib  # noqa: E402
from cogsim.scenarios import delayed_estimation as de  # noqa: E402

TINY = de.Config(
    datasets=("zhang_luck2008",), models=("uniform", "mixture2p"), n_starts=1, max_subjects=2, n_boot=50
)


@pytest.fixture(scope="module")
def sim():
    return de.simulate(TINY, key=jax.random.key(0))


def test_tables_hold_every_participant_and_model(sim):
    fits = sim[sim.kind == "fit"]
    assert set(fits.model) == {"uniform", "mixture2p"} and fits.unit.nunique() == 2
    est = sim[(sim.kind == "estimate") & (sim.model == "mixture2p")]
    assert sorted(est.set_size.unique()) == [1, 2, 3, 6]
    curve = sim[(sim.kind == "curve") & (sim.model == "mixture2p") & (sim.set_size == 1)]
    assert np.sum(curve.density) * 2 * np.pi / len(curve) == pytest.approx(1.0, abs=0.01)


def test_compare_reports_the_declared_checks(sim):
    comp = de.compare(sim, de.reference().table, n_boot=50)
    names = {c.name for c in comp.checks}
    assert names == {
        "zhang_luck2008: guess rate rises with set size",
        "zhang_luck2008: precision falls with set size",
    }
    assert comp.metric("zhang_luck2008.uniform.delta_aic").value > 0  # guessing alone loses
    assert "zhang_luck2008_models" in comp.tables


def test_human_summaries_and_validation():
    h = de.reference().table
    assert set(h.dataset) == {"zhang_luck2008", "vandenberg2012"}
    vdb = h[h.dataset == "vandenberg2012"].sort_values("set_size")
    assert vdb.circular_sd.iloc[-1] > vdb.circular_sd.iloc[0]
    with pytest.raises(cfglib.ConfigError, match="datasets"):
        cfglib.validate(de.Config(datasets=("nope",)))
