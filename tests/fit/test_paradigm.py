import numpy as np
import pandas as pd
import pytest

from cogsim.errors import DataError
from cogsim.fit import Column, Paradigm

SCHEMA = Paradigm(
    "toy",
    (
        Column("subject", "id"),
        Column("set_size", "int", low=1),
        Column("error_rad", "float", low=-np.pi, high=np.pi),
        Column("correct", "bool"),
        Column("base_rate", "float", low=0.0, high=1.0, required=False),
    ),
    models={},
    pattern_columns=("nontarget_{i}_rad",),
)

GOOD = "subject,set_size,error_rad,correct,nontarget_1_rad,nontarget_2_rad,rt\n" + "\n".join(
    ["a1,2,0.5,1,0.1,,512", "a1,3,-0.25,0,0.2,0.3,433", "b7,2,3.0,1,-1.0,,398"]
)


def write(tmp_path, text, name="trials.csv", bom=False):
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def test_reads_bom_string_ids_patterns_and_keeps_extras(tmp_path):
    df = SCHEMA.read(write(tmp_path, GOOD, bom=True))
    assert list(df.columns[:4]) == ["subject", "set_size", "error_rad", "correct"]
    assert df["subject"].tolist() == ["a1", "a1", "b7"]
    assert df["set_size"].dtype == np.int64 and df["correct"].tolist() == [1, 0, 1]
    assert df.attrs["extra_columns"] == ["rt"] and df["rt"].tolist() == [512, 433, 398]
    assert np.isnan(df["nontarget_2_rad"].iloc[0]) and df["nontarget_2_rad"].iloc[1] == 0.3
    assert df.attrs["source"].endswith("trials.csv")


def test_integer_ids_stay_integers(tmp_path):
    df = SCHEMA.read(write(tmp_path, GOOD.replace("a1", "11").replace("b7", "7")))
    assert df["subject"].tolist() == [11, 11, 7] and df["subject"].dtype == np.int64


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda t: t.replace("subject,", "participant,"), r"trials\.csv: missing column 'subject'"),
        (
            lambda t: t.replace("-0.25", "abc"),
            r"trials\.csv: row 2, column 'error_rad': got 'abc'; allowed: a fin",
        ),
        (
            lambda t: t.replace("3.0,1", "45.0,1"),
            r"row 3, column 'error_rad': got 45\.0; allowed: .*\[-3\.14159265\d, 3\.14159",
        ),
        (
            lambda t: t.replace("a1,3,", "a1,2.5,"),
            r"row 2, column 'set_size': got 2\.5; allowed: an integer >= 1",
        ),
        (lambda t: t.replace("0.5,1,", "0.5,0.7,"), r"row 1, column 'correct': got 0\.7; allowed: 0 or 1"),
        (lambda t: t.replace("b7,", ","), r"row 3, column 'subject': got '\(blank\)'; allowed: a non-empty"),
        (lambda t: t.split("\n")[0], r"no data rows"),
    ],
)
def test_bad_data_is_one_line_naming_file_row_column(tmp_path, edit, expected):
    with pytest.raises(DataError, match=expected) as exc:
        SCHEMA.read(write(tmp_path, edit(GOOD)))
    assert "\n" not in str(exc.value)


def test_missing_file_and_optional_column_checked_when_present(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        SCHEMA.read(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r": a folder; allowed: a CSV"):
        SCHEMA.read(tmp_path)
    bad = GOOD.replace(",rt\n", ",base_rate\n").replace(",512", ",1.5")
    with pytest.raises(DataError, match=r"row 1, column 'base_rate': got 1\.5"):
        SCHEMA.read(write(tmp_path, bad))


def test_validate_hook_runs_on_the_checked_frame(tmp_path):
    def no_degrees(df, source):
        if df["error_rad"].abs().max() > 2.9:
            raise DataError(f"{source}: looks like degrees")

    p = Paradigm(SCHEMA.name, SCHEMA.columns, {}, SCHEMA.pattern_columns, validate=no_degrees)
    with pytest.raises(DataError, match="trials.csv: looks like degrees"):
        p.read(write(tmp_path, GOOD))


def test_reads_a_dataframe():
    df = SCHEMA.read(
        pd.DataFrame({"subject": [1, 2], "set_size": [1, 2], "error_rad": [0.0, 1.0], "correct": [1, 0]})
    )
    assert df.attrs["source"] == "<DataFrame>" and df.attrs["extra_columns"] == []


def test_tsv_compressed_and_parquet_files_read_as_the_csv(tmp_path):
    import gzip

    from cogsim import config as cfglib

    ref = SCHEMA.read(write(tmp_path, GOOD))
    tsv = write(tmp_path, GOOD.replace(",", "\t"), name="trials.TSV")
    gz = tmp_path / "trials.csv.gz"
    gz.write_bytes(gzip.compress(GOOD.encode()))
    pq = tmp_path / "trials.parquet"
    pd.read_csv(write(tmp_path, GOOD, name="plain.csv"), dtype={"subject": str}).to_parquet(pq)
    for path in (tsv, gz, pq):
        got = SCHEMA.read(path)
        pd.testing.assert_frame_equal(got, ref, check_dtype=False)
        assert got.attrs["source"] == str(path) and cfglib.is_trial_file(str(path))
    assert not cfglib.is_trial_file(str(tmp_path / "absent.parquet"))


def test_parquet_ids_keep_their_text_and_bad_values_name_the_row(tmp_path):
    pq = tmp_path / "t.parquet"
    frame = pd.DataFrame(
        {"subject": ["007", "7"], "set_size": [2, 3], "error_rad": [0.1, 9.0], "correct": [1, 0]}
    )
    frame.to_parquet(pq)
    with pytest.raises(DataError, match=r"t\.parquet: row 2, column 'error_rad': got 9\.0"):
        SCHEMA.read(pq)
    frame.assign(error_rad=[0.1, 0.2]).to_parquet(pq)
    assert SCHEMA.read(pq).subject.tolist() == ["007", "7"]


def test_workbooks_damaged_parquet_and_tabs_in_a_csv_get_one_line(tmp_path):
    book = tmp_path / "trials.xlsx"
    book.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(
        DataError, match=r"trials\.xlsx: a spreadsheet workbook; allowed: .*save the sheet as CSV"
    ):
        SCHEMA.read(book)
    broken = tmp_path / "trials.parquet"
    broken.write_bytes(b"PAR1 truncated")
    with pytest.raises(DataError, match=r"trials\.parquet: not a readable Parquet file") as exc:
        SCHEMA.read(broken)
    assert "\n" not in str(exc.value)
    (tmp_path / "bad.csv.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match=r"bad\.csv\.gz: not a readable CSV \(Not a gzipped file"):
        SCHEMA.read(tmp_path / "bad.csv.gz")
    with pytest.raises(DataError, match=r"missing column 'subject'.*tab-separated: name it \.tsv"):
        SCHEMA.read(write(tmp_path, GOOD.replace(",", "\t"), name="trials.txt"))
