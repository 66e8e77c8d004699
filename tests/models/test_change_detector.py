"""The workspace network of the change-detection task: its displays follow the task."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cogsim import config as cfglib
from cogsim.models import change_detector as cdnet

B = 400


@pytest.fixture(scope="module")
def d():
    return jax.jit(cdnet.displays, static_argnums=(1, 2))(jax.random.key(0), B, cdnet.WorkspaceFit())


def test_displays_follow_the_task(d):
    present = np.asarray(d["present"])
    assert np.array_equal(present.sum(1), np.asarray(d["set_size"]))
    loc = np.asarray(d["probe_loc"])
    assert present[np.arange(B), loc].all()  # the probe is a studied square
    colour = np.asarray(d["display"])[..., : cdnet.N_COLOURS].argmax(-1)
    studied = colour[np.arange(B), loc]
    change = np.asarray(d["change"]) > 0
    probe = np.asarray(d["probe_col"])
    assert np.all((probe == studied) == ~change)
    for i in np.flatnonzero(change):  # a changed square takes a colour not in the display
        assert probe[i] not in colour[i][present[i]]
    for i in range(B):  # the squares of a display have distinct colours
        assert len(set(colour[i][present[i]])) == present[i].sum()


def test_probe_location_and_change_are_random(d):
    assert len(np.unique(np.asarray(d["probe_loc"]))) == cdnet.WorkspaceFit().n_locations
    assert float(jnp.mean(d["change"])) == pytest.approx(0.5, abs=0.08)


def test_capacities_above_the_locations_are_refused():
    # a capacity above n_locations would keep more slots than the network has (and was reported as K)
    with pytest.raises(cfglib.ConfigError, match=r"'top_k_grid': got \(20,\); allowed: .*n_locations = 12"):
        cfglib.validate(cdnet.WorkspaceFit(top_k_grid=(20,)))
    assert cfglib.validate(cdnet.WorkspaceFit(n_locations=8, top_k_grid=(1, 8))).top_k_grid == (1, 8)
