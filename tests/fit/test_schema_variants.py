"""Any file in a paradigm's documented schema is read and fitted; a file outside it is refused with one line.

The files are simulated by cogsim's own models (tests/simulated_trials.py), then reformatted the ways users'
files differ: ids, set sizes, column order, headers, encodings, line endings, booleans and units.
"""

import subprocess
import sys

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim import cli as cogsim_cli
from cogsim.errors import CogsimError, DataError
from cogsim.fit import Column, fit
from cogsim.fit import _applies as fitting_models
from cogsim.fitting_command import list_text
from cogsim.models import paradigms
from tests import simulated_trials as sim

DE = paradigms.get("delayed_estimation")
CD = paradigms.get("change_detection")
VS = paradigms.get("visual_search")


@pytest.fixture(scope="module")
def de():
    return sim.delayed_estimation()


def write(path, frame=None, text=None, raw=None):
    if raw is not None:
        path.write_bytes(raw)
    elif text is not None:
        path.write_text(text, encoding="utf-8")
    else:
        frame.to_csv(path, index=False)
    return path


def cli(*args):
    """``cogsim fit ...`` in a fresh process: (exit code, stderr)."""
    out = subprocess.run([sys.executable, "-m", "cogsim", "fit", *args], capture_output=True, text=True)
    return out.returncode, out.stderr


def test_zero_padded_ids_stay_distinct_and_are_fitted_apart(tmp_path, de):
    ids = {1: "007", 2: "7", 3: "07"}
    t = DE.read(write(tmp_path / "t.csv", de.assign(subject=de.subject.map(ids))))
    assert sorted(t.subject.unique()) == ["007", "07", "7"]
    res = fit(DE.models["mixture2p"], t, ci=None, key=jax.random.key(0))
    assert sorted(res.summary.subject) == ["007", "07", "7"] and (res.summary.n_trials == 160).all()


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ({1: "P01", 2: "P02", 3: "P03"}, ["P01", "P02", "P03"]),
        ({1: "Jürgen Ø", 2: "李 2", 3: " a b "}, ["Jürgen Ø", "a b", "李 2"]),  # surrounding spaces dropped
        ({1: "1.0", 2: "2.0", 3: "3.0"}, ["1.0", "2.0", "3.0"]),  # written like floats: kept as text
        ({1: 10, 2: -2, 3: 0}, [-2, 0, 10]),  # plain integers stay integers
        ({1: "NA", 2: "None", 3: "null"}, ["NA", "None", "null"]),  # missing-value words are ids here
    ],
)
def test_ids_are_kept_as_written(tmp_path, de, ids, expected):
    t = DE.read(write(tmp_path / "t.csv", de.assign(subject=de.subject.map(ids))))
    assert sorted(t.subject.unique()) == expected
    assert t.groupby("subject").size().tolist() == [160, 160, 160]


def test_bom_crlf_header_spaces_order_extras_and_trailing_blank_lines_read_the_same(tmp_path, de):
    clean = DE.read(write(tmp_path / "clean.csv", de))
    messy = de.assign(rt=512.0, note="ok")[["note", "error_rad", "rt", "set_size", "subject"]]
    text = messy.to_csv(index=False, lineterminator="\r\n").replace(
        "error_rad,rt,set_size", " error_rad , rt,set_size "
    )
    raw = b"\xef\xbb\xbf" + text.encode() + b"\r\n,,,,\r\n\r\n"
    t = DE.read(write(tmp_path / "messy.csv", raw=raw))
    pd.testing.assert_frame_equal(t[clean.columns], clean, check_like=False)
    assert t.attrs["extra_columns"] == ["note", "rt"] and len(t) == len(de)


def test_unbalanced_trials_single_set_size_and_single_participant_are_fitted(tmp_path):
    unbalanced = sim.delayed_estimation((1, 3, 7, 12), n_per=[20, 40, 60, 80], n_sub=1)
    t = DE.read(write(tmp_path / "u.csv", unbalanced))
    res = fit(DE.models["mixture2p"], t, ci=None, key=jax.random.key(0))
    assert res.estimates.set_size.drop_duplicates().tolist() == [1, 3, 7, 12]
    assert res.summary.n_trials.tolist() == [200]
    one = DE.read(write(tmp_path / "one.csv", sim.delayed_estimation((4,), n_per=60, n_sub=2)))
    res = fit(DE.models["mixture2p"], one, ci=None, key=jax.random.key(0))
    assert res.estimates.set_size.unique().tolist() == [4] and len(res.summary) == 2


def test_blank_cell_in_a_required_column_names_the_row(tmp_path, de):
    bad = de.astype({"error_rad": object})
    bad.loc[5, "error_rad"] = ""
    with pytest.raises(DataError) as err:
        DE.read(write(tmp_path / "t.csv", bad))
    assert (
        str(err.value)
        == f"{tmp_path / 't.csv'}: row 6, column 'error_rad': got '(blank)'; allowed: a finite number"
    )


def test_degrees_by_mistake_are_refused_with_the_conversion(tmp_path, de):
    with pytest.raises(DataError, match=r"row \d+, column 'error_rad': got .*these look like degrees"):
        DE.read(write(tmp_path / "t.csv", de.assign(error_rad=np.degrees(de.error_rad))))


def test_set_sizes_beyond_a_models_table_skip_that_model_and_fit_the_others(tmp_path):
    t = DE.read(write(tmp_path / "big.csv", sim.delayed_estimation((2, 20), n_per=30, n_sub=2)))
    assert sorted(t.set_size.unique()) == [2, 20]  # the schema takes any set size
    chosen, skipped = fitting_models.choose(DE, t, None)
    assert skipped == {
        "slots_averaging": "set sizes up to 20; model slots_averaging covers 1 to 16",
        "workspace": "set sizes up to 20; model workspace covers 1 to 16",
        "mixture3p": "needs nontargets",
    }
    assert set(chosen) == {"uniform", "mixture2p", "vp"}  # vp's tables reach 32
    with pytest.raises(
        DataError, match=r"row 31, column 'set_size': got 20; allowed: 1 to 16 for model 'workspace'"
    ):
        fitting_models.choose(DE, t, "mixture2p,workspace")
    res = fit(DE.models["mixture2p"], t, ci=None, key=jax.random.key(0))
    assert res.estimates.set_size.drop_duplicates().tolist() == [2, 20]


def test_nontargets_blank_beyond_the_set_size_fit_mixture3p(tmp_path):
    t = DE.read(
        write(tmp_path / "nt.csv", sim.delayed_estimation((1, 3, 7), n_per=40, n_sub=2, nontargets=True))
    )
    assert t.nontarget_6_rad.isna().sum() == 2 * 80  # set sizes 1 and 3 leave it blank
    chosen, skipped = fitting_models.choose(DE, t, None)
    assert "mixture3p" in chosen and not skipped
    res = fit(DE.models["mixture3p"], t, ci=None, key=jax.random.key(0))
    p_swap = res.estimates.query("parameter == 'p_swap' and set_size == 7").estimate
    assert len(p_swap) == 2 and p_swap.between(0, 1).all()


@pytest.mark.parametrize(("no", "yes"), [("false", "true"), ("False", "True"), ("FALSE", "TRUE"), ("f", "t")])
def test_booleans_as_words_read_as_0_1(tmp_path, no, yes):
    cd = sim.change_detection(n_sub=1)
    words = cd.assign(change=cd.change.map({0: no, 1: yes}), correct=cd.correct.map({0: no, 1: yes}))
    t = CD.read(write(tmp_path / "t.csv", words))
    assert t.change.tolist() == cd.change.tolist() and t.correct.tolist() == cd.correct.tolist()


def test_change_detection_other_set_sizes_and_string_ids_fit(tmp_path):
    cd = sim.change_detection((3, 6, 10))
    t = CD.read(write(tmp_path / "t.csv", cd.assign(subject=cd.subject.map({1: "s a", 2: "s-b", 3: "ß"}))))
    res = fit(CD.models["fixed_capacity"], t, ci=None, key=jax.random.key(0))
    assert sorted(res.summary.subject) == ["s a", "s-b", "ß"] and res.summary.converged.all()


def test_proportions_where_trials_are_expected_are_refused(tmp_path):
    rates = sim.change_detection().groupby(["subject", "set_size", "change"], as_index=False).correct.mean()
    with pytest.raises(DataError) as err:
        CD.read(write(tmp_path / "rates.csv", rates))
    value = float(rates.correct.iloc[0])
    assert (
        f"row 1, column 'correct': got {value!r}; allowed: 0 or 1 (or true/false, t/f, yes/no) (a proportion?"
        in str(err.value)
    )


def test_visual_search_other_set_sizes_and_word_booleans_fit(tmp_path):
    vs = sim.visual_search((5, 10, 20))
    words = vs.assign(target_present=vs.target_present.map({0: "False", 1: "True"}))
    t = VS.read(write(tmp_path / "t.csv", words))
    assert t.target_present.tolist() == vs.target_present.tolist()
    res = fit(VS.models["parallel"], t, ci=None, key=jax.random.key(0))
    assert len(res.summary) == 2 and np.isfinite(res.summary.loglik).all()


def test_rt_in_seconds_is_refused_with_the_conversion(tmp_path):
    vs = sim.visual_search()
    with pytest.raises(DataError) as err:
        VS.read(write(tmp_path / "s.csv", vs.assign(rt_ms=vs.rt_ms / 1000)))
    msg = str(err.value)
    assert (
        "row 1, column 'rt_ms'" in msg
        and "these look like seconds; convert with rt_ms = seconds * 1000" in msg
    )


def test_by_experiment_and_subject_with_experiments_01_and_1(tmp_path, de):
    both = pd.concat([de.assign(experiment="01"), de.assign(experiment="1")], ignore_index=True)
    t = DE.read(write(tmp_path / "t.csv", both))
    assert sorted(t.experiment.unique()) == ["01", "1"]
    res = fit(DE.models["mixture2p"], t, by=("experiment", "subject"), ci=None, key=jax.random.key(0))
    assert len(res.summary) == 6


def test_cli_refuses_bad_files_with_exit_2_and_one_line(tmp_path):
    vs = sim.visual_search()
    seconds = write(tmp_path / "seconds.csv", vs.assign(rt_ms=vs.rt_ms / 1000))
    rc, err = cli(
        "visual_search", "--data", str(seconds), "--models", "parallel", "--out", str(tmp_path / "o")
    )
    assert rc == 2 and "Traceback" not in err and err.count("\n") == 1
    assert "seconds.csv: row 1, column 'rt_ms'" in err and "look like seconds" in err
    big = write(tmp_path / "big.csv", sim.delayed_estimation((2, 20), n_per=30, n_sub=1))
    rc, err = cli(
        "delayed_estimation", "--data", str(big), "--models", "workspace", "--out", str(tmp_path / "o")
    )
    assert rc == 2 and "Traceback" not in err and err.count("\n") == 1
    assert "big.csv: row 31, column 'set_size': got 20; allowed: 1 to 16 for model 'workspace'" in err


def test_choose_without_any_applicable_model_is_one_line(tmp_path):
    t = DE.read(write(tmp_path / "t.csv", sim.delayed_estimation((2, 20), n_per=30, n_sub=1)))
    with pytest.raises(CogsimError, match="does not apply to .*t.csv: needs nontargets"):
        fitting_models.choose(DE, t, "mixture3p")


def test_semicolon_separated_file_is_refused_naming_the_separator(tmp_path, de):
    path = write(tmp_path / "semi.csv", text=de.to_csv(index=False, sep=";"))
    with pytest.raises(DataError, match=r"missing column 'subject'.*looks ';'-separated; allowed: commas"):
        DE.read(path)


def test_errors_in_0_to_2pi_are_refused_with_the_wrap_not_as_degrees(tmp_path, de):
    wrapped = de.assign(error_rad=np.mod(de.error_rad, 2 * np.pi))
    with pytest.raises(DataError) as err:
        DE.read(write(tmp_path / "t.csv", wrapped))
    assert "radians in [0, 2 pi)? wrap with (x + pi) % (2 * pi) - pi" in str(err.value)
    assert "degrees" not in str(err.value)


def _sessions(tmp_path, blank_row=None):
    """Change-detection trials of 2 participants, each in sessions ``01`` and ``1`` (half the trials each)."""
    cd = sim.change_detection(set_sizes=(3, 6), n_per=30, n_sub=2)
    half = cd.groupby("subject").cumcount() % 2 == 0
    cd = cd.assign(experiment="A", session=np.where(half, "01", "1"))
    if blank_row is not None:  # 1-based data row whose session cell is left blank
        cd.loc[blank_row - 1, "session"] = ""
    return write(tmp_path / "sessions.csv", cd)


def test_cli_by_session_keeps_sessions_01_and_1_apart(tmp_path, capsys):
    path, out = _sessions(tmp_path), tmp_path / "o"
    argv = ["fit", "change_detection", "--data", str(path), "--by", "experiment,session,subject"]
    rc = cogsim_cli.main([*argv, "--models", "fixed_capacity", "--ci", "none", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    units = pd.read_parquet(out / "models.parquet")
    assert sorted(zip(units.subject, units.session, strict=True)) == [
        (1, "01"),
        (1, "1"),
        (2, "01"),
        (2, "1"),
    ]
    assert (units.n_trials == 30).all()
    # read without id_columns (as a Python user's own frame), pandas merges the two sessions
    assert sorted(CD.read(path).session.unique()) == [1]


def test_cli_blank_by_cell_exits_2_naming_row_and_column(tmp_path, capsys):
    path = _sessions(tmp_path, blank_row=5)
    argv = ["fit", "change_detection", "--data", str(path), "--by", "experiment,session,subject"]
    assert (
        cogsim_cli.main([*argv, "--models", "fixed_capacity", "--ci", "none", "--out", str(tmp_path / "o")])
        == 2
    )
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert "sessions.csv: row 5, column 'session': got '(blank)'; allowed: a non-empty" in err


def test_base_rate_is_optional_but_when_given_is_needed_on_every_row(tmp_path):
    cd = sim.change_detection(set_sizes=(3,), n_per=20, n_sub=1)
    assert "base_rate" not in CD.read(write(tmp_path / "none.csv", cd)).columns
    full = CD.read(write(tmp_path / "full.csv", cd.assign(base_rate=0.5)))
    assert (full.base_rate == 0.5).all()
    holed = cd.assign(base_rate=0.5).astype({"base_rate": object})
    holed.loc[3, "base_rate"] = ""
    rule = "allowed: a finite number, on every row if the column is given"
    with pytest.raises(DataError) as err:
        CD.read(write(tmp_path / "holed.csv", holed))
    assert f"holed.csv: row 4, column 'base_rate': got '(blank)'; {rule}" in str(err.value)
    with pytest.raises(DataError, match=r"row 4, column 'base_rate': got '\(blank\)'"):
        CD.read(holed.replace("", np.nan))
    assert f"base_rate          optional  {rule[len('allowed: ') :]}" in list_text()


def test_column_blanks_true_is_refused_where_blanks_cannot_be_read():
    with pytest.raises(CogsimError, match=r"Column 'subject' blanks: got True .*allowed: False or None"):
        Column("subject", "id", required=False, blanks=True)
    with pytest.raises(CogsimError, match=r"Column 'x' blanks: got True"):
        Column("x", "float", blanks=True)
    assert Column("x", "float", required=False).blanks_allowed
    assert not Column("x", "float", required=False, blanks=False).blanks_allowed


@pytest.mark.parametrize("bad", [1.5, "a"])
def test_set_sizes_from_a_dataframe_must_be_whole_numbers(bad):
    from cogsim.models import working_memory as wm

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"subject": 1, "set_size": rng.choice([1, 2], 40), "error_rad": rng.uniform(-3, 3, 40)})
    df["set_size"] = df["set_size"].astype(object)
    df.loc[3, "set_size"] = bad
    with pytest.raises(CogsimError, match=rf"row 4, column 'set_size': got {bad!r}; allowed: a whole number"):
        fit(wm.MIXTURE2P, df, ci=None, key=jax.random.key(0))


def test_a_blank_response_from_a_dataframe_is_named_not_fitted_as_minus_infinity():
    from cogsim.models import working_memory as wm

    rng = np.random.default_rng(0)
    cols = {"subject": np.repeat([1, 2], 30), "set_size": rng.choice([1, 2], 60)}
    df = pd.DataFrame({**cols, "error_rad": rng.uniform(-3, 3, 60)})
    df.loc[41, "error_rad"] = np.nan
    with pytest.raises(DataError, match=r"row 42, column 'error_rad': got \(blank\); allowed: a number"):
        fit(wm.MIXTURE2P, df, ci=None, key=jax.random.key(0))


def test_a_blank_response_beside_blank_nontargets_is_named_in_its_own_column():
    from cogsim.models import working_memory as wm

    rng = np.random.default_rng(0)
    n = 60
    df = pd.DataFrame(
        {"subject": np.repeat([1, 2], n // 2), "set_size": 2, "error_rad": rng.uniform(-3, 3, n)}
    )
    df["nontarget_1_rad"] = rng.uniform(-3, 3, n)
    df["nontarget_2_rad"] = np.nan  # a set size of 2 leaves the second non-target blank on every row
    df.loc[41, "error_rad"] = np.nan
    with pytest.raises(DataError, match=r"row 42, column 'error_rad': got \(blank\); allowed: a number"):
        fit(wm.MIXTURE2P, df, ci=None, key=jax.random.key(0))


@pytest.mark.parametrize(
    "column",
    [pd.Series(["True", "False"] * 30), pd.Series([1, 0] * 30).astype("category")],
    ids=["text", "cat"],
)
def test_a_dataframe_column_the_model_reads_as_text_or_categories_is_named(column):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"subject": 1, "set_size": rng.choice([2, 4], 60), "change": rng.integers(0, 2, 60)})
    df["correct"] = column
    with pytest.raises(DataError, match=r"<DataFrame>: column 'correct': got (str|object|category) values"):
        fit(CD.models["sdt"], df, ci=None, key=jax.random.key(0))
    fit(CD.models["sdt"], CD.read(df), ci=None, key=jax.random.key(0))  # the paradigm's reader converts it


def test_a_set_size_below_1_from_a_dataframe_is_refused():
    from cogsim.models import working_memory as wm

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"subject": 1, "set_size": rng.choice([1, 2], 40), "error_rad": rng.uniform(-3, 3, 40)})
    df.loc[5, "set_size"] = 0
    with pytest.raises(
        DataError, match=r"row 6, column 'set_size': got 0; allowed: a whole number of items >= 1"
    ):
        fit(wm.MIXTURE2P, df, ci=None, key=jax.random.key(0))


@pytest.mark.parametrize(("old", "new"), [(1, 0), (3, 4), (2, "02")], ids=["zero", "gap", "leading-zero"])
def test_misnumbered_nontarget_columns_are_refused_not_kept_aside(tmp_path, old, new):
    frame = sim.delayed_estimation((1, 3, 4), n_per=20, n_sub=1, nontargets=True)
    frame = frame[[c for c in frame.columns if not c.startswith("nontarget_") or int(c.split("_")[1]) <= 3]]
    frame = frame.rename(columns={f"nontarget_{old}_rad": f"nontarget_{new}_rad"})
    with pytest.raises(
        DataError, match=rf"column 'nontarget_{new}_rad': allowed: nontarget_{{i}}_rad numbered 1, 2"
    ):
        DE.read(write(tmp_path / "nt.csv", frame))


def test_too_many_nontargets_name_the_first_column_beyond_set_size_minus_one(tmp_path):
    frame = sim.delayed_estimation((1, 3), n_per=20, n_sub=1, nontargets=True)
    i = frame.index[frame.set_size == 1][2]
    frame.loc[i, ["nontarget_1_rad", "nontarget_2_rad"]] = [0.5, -0.25]  # set size 1 allows none
    want = rf"row {i + 1}, column 'nontarget_1_rad': got 0.5; allowed: at most set_size - 1 = 0 non-target"
    with pytest.raises(DataError, match=want):
        DE.read(write(tmp_path / "nt.csv", frame))
    frame.loc[i, "nontarget_1_rad"] = np.nan
    with pytest.raises(DataError, match=rf"row {i + 1}, column 'nontarget_2_rad': got -0.25"):
        DE.read(write(tmp_path / "nt2.csv", frame))


def test_fewer_nontargets_than_the_display_had_are_read_and_said(tmp_path):
    frame = sim.delayed_estimation((1, 3), n_per=20, n_sub=1, nontargets=True)
    frame.loc[frame.index[frame.set_size == 3][4], "nontarget_2_rad"] = np.nan
    t = DE.read(write(tmp_path / "nt.csv", frame))
    row = int(frame.index[frame.set_size == 3][4]) + 1
    assert t.attrs["notes"] == [
        f"1 trial(s) give fewer non-target values than set_size - 1 (first: row {row}, set size 3, 1 given); "
        "mixture3p's swaps go only to the non-targets given"
    ]
    from cogsim.fit._participants import data_line

    assert data_line(t, ("subject",)).endswith("; " + t.attrs["notes"][0])


def test_mixture3p_fits_a_dataframe_the_reader_did_not_read_like_the_file():
    frame = sim.delayed_estimation((2, 4), n_per=30, n_sub=2, nontargets=True)
    frame = frame[[c for c in frame.columns if not c.startswith("nontarget_") or int(c.split("_")[1]) <= 3]]
    raw = fit(DE.models["mixture3p"], frame, ci=None, key=jax.random.key(0))
    read = fit(DE.models["mixture3p"], DE.read(frame), ci=None, key=jax.random.key(0))
    np.testing.assert_allclose(raw.summary.loglik, read.summary.loglik, rtol=1e-6)


def test_a_frame_in_degrees_given_to_fit_directly_or_changed_after_read_is_refused():
    from cogsim import data

    t = data.load("zhang_luck2008_delayed_estimation")
    t = t[t.subject.isin([1, 2])]
    m = DE.models["mixture2p"]
    want = r"row \d+, column 'error_rad': got .*radians in \[-pi, pi\] \(these look like degrees"
    with pytest.raises(DataError, match=want):  # never read by the paradigm
        fit(m, t.assign(error_rad=np.degrees(t.error_rad)), ci=None, key=jax.random.key(0))
    read = DE.read(t)
    with pytest.raises(DataError, match=want):  # read, then changed: the frame keeps read()'s attrs
        fit(m, read.assign(error_rad=np.degrees(read.error_rad)), ci=None, key=jax.random.key(0))
