"""Backtests on long data (an open universe) from Python: a path, a pandas DataFrame and
a pyarrow Table give the command line's numbers."""

import json
import pathlib

import pandas as pd
import pyarrow as pa
import pytest

import sptlab

from conftest import run_cli

DATA = pathlib.Path(__file__).resolve().parents[2] / "examples" / "data"
FIXTURE = DATA / "crsp_fixture.csv"

SCENARIO = """
[market]
n = 6
[benchmark]
index = 5
reconstitute_every = 10
[[strategies]]
name = "equal"
weighting = "equal"
rebalance_every = 5
cost_bps = 20.0
[[strategies]]
name = "diversity"
weighting = "diversity"
p = 0.5
exclude = ["10001"]
"""


def frame():
    """The fixture as pandas reads it: RET with its letter codes as text, as WRDS exports it."""
    return pd.read_csv(FIXTURE, dtype={"RET": str, "DLRET": str})


def test_a_long_file_a_dataframe_and_a_pyarrow_table_agree_with_the_cli(cli, tmp_path):
    out = tmp_path / "cli"
    done = run_cli(cli, "backtest", FIXTURE, "--scenario", _write(tmp_path, SCENARIO), "--quiet", "--out", out)
    assert done.returncode == 0, done.stderr
    expected = json.loads((out / "summary.json").read_text())
    by_path = sptlab.backtest(FIXTURE, scenario=SCENARIO)
    assert isinstance(by_path, sptlab.LongBacktestResult)
    by_frame = sptlab.backtest(frame(), scenario=SCENARIO)
    by_table = sptlab.backtest(pa.Table.from_pandas(frame(), preserve_index=False), scenario=SCENARIO)
    for result in (by_path, by_frame, by_table):
        assert list(result.summary["strategies"]) == ["equal", "diversity"]
        for name, theirs in expected["strategies"].items():
            ours = result.summary["strategies"][name]
            for key in ("relative_log_return", "screen_term", "drift_term", "leakage_term", "cost_term",
                        "total_return_term"):
                assert ours[key] == theirs[key], (name, key)
    table = by_frame.table()
    assert list(table.index) == ["equal", "diversity"]
    assert abs(table.loc["equal", "residual"]) < 1e-12
    series = by_frame.series
    assert series["date"].iloc[0].strftime("%Y-%m-%d") == "2021-01-04"
    by_path.save(tmp_path / "saved")
    assert (tmp_path / "saved" / "backtest.csv").read_text() == (out / "backtest.csv").read_text()


def test_a_bad_long_dataframe_raises_value_error_naming_the_column():
    with pytest.raises(ValueError, match="a long file needs a column id"):
        sptlab.backtest(frame().rename(columns={"PERMNO": "ticker"}), scenario=SCENARIO)
    with pytest.raises(ValueError, match="missing_delisting_return: must be a return of at least -1"):
        sptlab.backtest(frame(), scenario=SCENARIO, missing_delisting_return=-2.0)


def _write(folder, text):
    path = folder / "scenario.toml"
    path.write_text(text)
    return path
