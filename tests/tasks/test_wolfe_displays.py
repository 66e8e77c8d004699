import numpy as np
import pytest
from scipy import ndimage

from cogsim.errors import CogsimError
from cogsim.tasks import wolfe_displays as wd

SIZES = [3, 6, 12, 18, 3, 6, 12, 18]
PRESENT = [1, 1, 1, 1, 0, 0, 0, 0]


@pytest.mark.parametrize("task", wd.TASKS)
def test_every_display_holds_its_items_and_the_target_only_when_present(task):
    d = wd.render(task, SIZES, PRESENT, seed=1)
    for i, (n, tp) in enumerate(zip(SIZES, PRESENT, strict=True)):
        lit = d.images[i].any(-1)
        # digits have separate strokes only within an item; dilate to merge each item into one blob
        _, count = ndimage.label(ndimage.binary_dilation(lit, iterations=3) if task != "feature" else lit)
        assert count == n == d.n_items[i]
        assert (d.target_index[i] >= 0) == bool(tp)
    red_vertical = wd._items(task, wd.DisplaySpec())[0]
    # the target's pixels: present displays differ from absent ones by exactly one target item
    if task == "feature":
        red = (d.images[..., 0] == 255).sum((1, 2))
        area = red_vertical[0].sum()
        assert np.all(red[:4] == area) and np.all(red[4:] == 0)


def test_item_sizes_follow_the_spec():
    spec = wd.DisplaySpec(ppd=30.0)
    d = wd.render("conjunction", [18], [1], seed=0, spec=spec)
    hw = np.stack([d.boxes[0, :, 2] - d.boxes[0, :, 0], d.boxes[0, :, 3] - d.boxes[0, :, 1]], 1)
    assert {tuple(x) for x in hw} == {(30, 9), (9, 30)}  # 1.0 x 0.3 deg bars, vertical and horizontal
    t = d.boxes[0, d.target_index[0]]
    assert (t[2] - t[0], t[3] - t[1]) == (30, 9)
    assert tuple(d.images[0, (t[0] + t[2]) // 2, (t[1] + t[3]) // 2]) == wd.RED
    digit = wd.render("spatial_configuration", [3], [0], seed=0)
    assert {(b[2] - b[0], b[3] - b[1]) for b in digit.boxes[0]} == {(30, 18)}


def test_two_and_five_are_mirror_images_and_bad_input_is_named():
    spec = wd.DisplaySpec()
    two, five = wd._digit("2", spec), wd._digit("5", spec)
    assert np.array_equal(two, five[:, ::-1]) and not np.array_equal(two, five)
    with pytest.raises(CogsimError, match="task"):
        wd.render("colour", [3], [1], seed=0)
    with pytest.raises(CogsimError, match="set_sizes"):
        wd.render("feature", [40], [1], seed=0)


@pytest.mark.parametrize("task", wd.TASKS)
def test_eccnet_trials_are_grey_grid_displays_with_the_target_in_its_cell(task):
    spec = wd.DisplaySpec(ppd=10.0)
    t = wd.eccnet_trials(task, [3, 6, 18], seed=1, spec=spec)
    assert t.images.shape == (3, spec.side, spec.side) and t.images.dtype == np.uint8
    assert t.item_cells.sum(axis=1).tolist() == [3, 6, 18]
    assert t.item_cells[np.arange(3), t.target_cell].all()
    for i in range(3):
        y0, x0, y1, x1 = t.layout.cell_rects[t.target_cell[i]]
        assert t.images[i, y0:y1, x0:x1].any()  # the target lies in its cell
        assert t.targets[i].any()
    if task == "feature":  # red becomes the darker grey (Rec. 601 luma), green the brighter
        assert t.targets.max() == 76 and t.images.max() == 150


def test_a_negative_seed_or_a_presence_other_than_0_1_is_refused():
    with pytest.raises(CogsimError, match="seed: got -1; allowed: an integer >= 0"):  # before: numpy's error
        wd.render("feature", [3], [1], seed=-1)
    with pytest.raises(CogsimError, match=r"target_present: got \[2\]"):
        wd.render("feature", [3], [2], seed=0)
