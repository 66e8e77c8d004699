import pandas as pd
import pytest

import cogsim
from cogsim.errors import DataError

EXPECTED = {
    "rouder2008_change_detection": 12345,
    "published_means": 18,
    "umls": 5216 + 652 + 661,
    "amazon_book_covers.fixations": 7356,
    "amazon_book_covers.trials": 80,
    "visual_search_asymmetry.human_rt": 40,
    "visual_search_asymmetry.model_trials": 15264,
    "vandenberg2012_delayed_estimation": 37824,
    "zhang_luck2008_delayed_estimation": 4000,
    "adam2015_change_detection": 12000,
}


@pytest.mark.parametrize("name", sorted(cogsim.data.list()))
def test_every_dataset_loads_with_readme_licence_and_citation(name):
    df = cogsim.data.load(name)
    assert isinstance(df, pd.DataFrame) and len(df) > 0
    folder = cogsim.data.folder(name)
    assert (folder / "README.md").is_file() and (folder / "LICENSE.md").is_file()
    assert len(cogsim.data.citation(name)) > 20
    if name in EXPECTED:
        assert len(df) == EXPECTED[name]


def test_schema_types():
    df = cogsim.data.load("rouder2008_change_detection")
    assert df["N"].dtype == "int64" and df["cor"].dtype == bool and df["RT"].dtype == "float64"
    umls = cogsim.data.load("umls")
    assert set(umls["split"]) == {"train", "valid", "test"}


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset 'nope'"):
        cogsim.data.load("nope")


def test_malformed_file_names_file_row_and_column(tmp_path):
    src = cogsim.data.folder("amazon_book_covers.trials") / "trials.csv"
    lines = src.read_text().splitlines()
    parts = lines[3].split(",")
    parts[2] = "wide"  # image_width
    lines[3] = ",".join(parts)
    bad = tmp_path / "trials.csv"
    bad.write_text("\n".join(lines))
    with pytest.raises(DataError) as err:
        cogsim.data.load("amazon_book_covers.trials", path=tmp_path)
    msg = str(err.value)
    assert "trials.csv" in msg and "row 4" in msg and "'image_width'" in msg and "'wide'" in msg


def test_missing_column_and_out_of_range_value(tmp_path):
    df = cogsim.data.load("rouder2008_change_detection").head(5)
    df.drop(columns="resp").to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(DataError, match=r"row 1 \(header\).*'resp'"):
        cogsim.data.load("rouder2008_change_detection", path=tmp_path / "a.csv")
    df2 = df.copy()
    df2.loc[2, "N"] = 3
    df2.to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(DataError, match=r"row 4, column 'N'.*one of \[2, 5, 8\]"):
        cogsim.data.load("rouder2008_change_detection", path=tmp_path / "b.csv")


def test_ragged_triple_file(tmp_path):
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text("a\tisa\tb\n")
    (tmp_path / "valid.txt").write_text("a\tisa\tb\nc\tisa\n")
    with pytest.raises(DataError, match=r"valid.txt: row 2: expected 3 fields"):
        cogsim.data.load("umls", path=tmp_path)


def test_bom_and_string_ids_accepted(tmp_path):
    src = cogsim.data.folder("adam2015_change_detection") / "trials.csv"
    lines = src.read_text().splitlines()[:4]
    (tmp_path / "bom.csv").write_text("\ufeff" + "\n".join(lines))
    df = cogsim.data.load("adam2015_change_detection", path=tmp_path / "bom.csv")
    assert list(df.columns) == ["subject", "set_size", "change", "correct"] and df.subject.dtype == "int64"
    named = [lines[0]] + ["p" + row for row in lines[1:]]
    (tmp_path / "ids.csv").write_text("\n".join(named))
    df = cogsim.data.load("adam2015_change_detection", path=tmp_path / "ids.csv")
    assert df.subject.tolist()[0].startswith("p")


def test_angle_out_of_range_names_row(tmp_path):
    src = cogsim.data.folder("zhang_luck2008_delayed_estimation") / "trials.csv"
    lines = src.read_text().splitlines()[:5]
    parts = lines[2].split(",")
    parts[3] = "45.0"  # degrees by mistake
    lines[2] = ",".join(parts)
    (tmp_path / "t.csv").write_text("\n".join(lines))
    with pytest.raises(DataError, match=r"row 3, column 'error_rad'.*radians"):
        cogsim.data.load("zhang_luck2008_delayed_estimation", path=tmp_path / "t.csv")


def test_the_readme_data_table_gives_each_datasets_own_licence():
    import re
    from pathlib import Path

    from cogsim import data

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## Data provenance and licences") :].split("\n## ")[0]
    for row in (line for line in section.splitlines() if line.startswith("| `")):
        cells = [c.strip() for c in row.strip("|").split("|")]
        for name in re.findall(r"`([^`*]+)`", cells[0]):
            if name in data.list() and data.info(name)["licence"].startswith("GPL"):  # the versions differ
                assert cells[-1].startswith(data.info(name)["licence"]), (name, cells[-1])


def test_ids_with_leading_zeros_stay_distinct(tmp_path):
    # before: "01", "1" and "007" became the integers 1, 1 and 7, merging two participants
    rows = ["subject,set_size,change,correct", "01,2,1,1", "1,2,0,1", "007,3,1,0"]
    (tmp_path / "t.csv").write_text("\n".join(rows))
    df = cogsim.data.load("adam2015_change_detection", path=tmp_path / "t.csv")
    assert df.subject.tolist() == ["01", "1", "007"] and df.subject.nunique() == 3
    (tmp_path / "plain.csv").write_text("\n".join([rows[0], "1,2,1,1", "12,2,0,1"]))
    plain = cogsim.data.load("adam2015_change_detection", path=tmp_path / "plain.csv")
    assert plain.subject.dtype == "int64" and plain.subject.tolist() == [1, 12]


def test_a_latin1_file_and_an_unknown_kind_are_refused(tmp_path):
    f = tmp_path / "t.csv"
    f.write_bytes("subject,name\n1,Jos\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"t\.csv: .*not UTF-8 text; the file must be UTF-8"):
        cogsim.data.read_table(f, {"subject": "id", "name": "str"})
    f.write_text("subject\n1\n")
    with pytest.raises(DataError, match=r"column 'subject': kind 'integer' is not allowed.*'int', 'float'"):
        cogsim.data.read_table(f, {"subject": "integer"})


@pytest.mark.parametrize("rt", ["inf", "-5"])
def test_rouder_response_times_must_be_finite_and_not_negative(tmp_path, rt):
    df = cogsim.data.load("rouder2008_change_detection").head(4).astype({"RT": object})
    df.loc[2, "RT"] = rt
    df.to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(DataError, match=r"r\.csv: row 4, column 'RT'.*finite response time in seconds"):
        cogsim.data.load("rouder2008_change_detection", path=tmp_path / "r.csv")
