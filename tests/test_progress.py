"""Progress reports: a line per stage off the terminal, tqdm on it, nothing when quiet."""

import io

import pytest

from cogsim import progress


@pytest.fixture(autouse=True)
def _restore():
    yield
    progress.configure(enabled=True, stream=None)


def test_stages_and_bars_write_status_lines_off_the_terminal():
    out = io.StringIO()
    progress.configure(enabled=True, stream=out)
    with progress.stage("fitting"):
        pass
    b = progress.bar(4, desc="bootstrapping")
    b.update(4)
    b.close()
    assert list(progress.iterate([1, 2], desc="seeds")) == [1, 2]
    lines = out.getvalue().splitlines()
    assert lines[0] == "cogsim: fitting ..." and lines[1].startswith("cogsim: fitting done (")
    assert lines[2] == "cogsim: bootstrapping: 0 of 4 ..." and lines[3].startswith(
        "cogsim: bootstrapping: 4/4"
    )
    assert lines[4] == "cogsim: seeds: 0 of 2 ..." and lines[5].startswith("cogsim: seeds: 2/2 done")


def test_quiet_writes_nothing():
    out = io.StringIO()
    progress.configure(enabled=False, stream=out)
    with progress.stage("fitting"):
        b = progress.bar(2, desc="x")
        b.update(2)
        b.close()
    assert out.getvalue() == "" and not progress.enabled()


def test_a_terminal_gets_a_tqdm_bar():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    progress.configure(enabled=True, stream=out)
    b = progress.bar(3, desc="points")
    b.update(3)
    b.close()
    assert type(b).__module__.startswith("tqdm") and "points" in out.getvalue()
