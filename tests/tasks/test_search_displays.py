"""Search display generation: argument checks (the displays themselves: tests/models/eccnet)."""

from __future__ import annotations

import jax
import pytest

from cogsim.errors import CogsimError
from cogsim.tasks import search_displays as sd


@pytest.mark.parametrize("size", [2.5, 0, True, 10**6])
def test_a_set_size_that_is_not_a_whole_number_in_range_is_named(size):
    allowed = r"allowed: an integer from 1 to \d+ \(the cells of experiment 5\)$"
    with pytest.raises(CogsimError, match=rf"make_trials: got set_sizes\[0\]={size}; {allowed}"):
        sd.make_trials(sd.EXPERIMENTS[5], key=jax.random.key(0), ppd=15.0, n_trials=1, set_sizes=(size,))
