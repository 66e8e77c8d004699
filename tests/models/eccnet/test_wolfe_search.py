"""eccNET on the rendered Wolfe et al. (2010) displays (tiny: 10 px/deg, a few displays)."""

import numpy as np
import pytest

from cogsim.models import eccnet
from cogsim.tasks import wolfe_displays as wd

PPD = 10.0


@pytest.fixture(scope="module")
def extractor():
    return eccnet.Extractor.shipped("diet_normal", eccnet.Geometry(ppd=PPD))


@pytest.mark.parametrize("task", ["conjunction", "spatial_configuration"])
def test_items_only_search_fixates_items_and_finds_every_target_within_the_set_size(extractor, task):
    trials = wd.eccnet_trials(task, [3, 6, 12], seed=2, spec=wd.DisplaySpec(ppd=PPD))
    res = eccnet.search(extractor, trials, eccnet.SearchConfig(items_only=True), return_paths=True)
    assert res.found.all()
    assert (res.n_saccades <= res.set_size).all()
    for t, path in enumerate(res.fixations):
        cells = [trials.layout.cell_map[r, c] for r, c in path]
        assert all(trials.item_cells[t, c] for c in cells)  # every fixation lands on an item's cell
        assert len(set(cells)) == len(cells)


@pytest.mark.slow
def test_batched_search_equals_the_per_fixation_loop_with_items_only(extractor):
    trials = wd.eccnet_trials("feature", [3, 6], seed=3, spec=wd.DisplaySpec(ppd=PPD))
    cfg = eccnet.SearchConfig(items_only=True)
    a = eccnet.search(extractor, trials, cfg, return_paths=True)
    b = eccnet.search_per_fixation(extractor, trials, cfg, return_paths=True)
    assert a.fixations.tolist() == b.fixations.tolist()
    np.testing.assert_array_equal(a.n_saccades, b.n_saccades)
