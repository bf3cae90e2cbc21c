"""The Python summary is the command line's summary.json for the same scenario and seed:
every number but the run's timings and the adapter's text (the CPU backend, both)."""

import copy
import json

import pytest

import sptlab

from conftest import PRICES, cli_summary, differences


@pytest.mark.parametrize(
    "name, args",
    [
        ("default", ["--paths", "300", "--years", "2", "--seed", "7"]),
        ("atlas", ["--paths", "200", "--years", "1"]),
        ("costs", ["--paths", "200", "--years", "1", "--antithetic"]),
        ("te_budget", ["--paths", "100", "--years", "1", "--control-variate", "none"]),
        ("bootstrap_sp500_20", ["--paths", "200", "--years", "1"]),
    ],
)
def test_the_summary_equals_the_cli_summary(cli, tmp_path, name, args):
    scenario = tmp_path / f"{name}.toml"
    scenario.write_text(sptlab.example(name))
    expected = cli_summary(cli, tmp_path, scenario, *args)
    options = dict(zip(args[::2], args[1::2]))
    result = sptlab.run(
        scenario,
        backend="cpu",
        paths=int(options["--paths"]),
        years=float(options["--years"]),
        seed=int(options["--seed"]) if "--seed" in options else None,
        antithetic=True if "--antithetic" in args else None,
        control_variate=options.get("--control-variate"),
    )
    assert differences(result.summary, expected) == []
    assert result.summary["run"]["backend"] == "cpu"


def test_a_dict_text_and_file_give_the_same_summary(cli, tmp_path):
    text = sptlab.example("default")
    path = tmp_path / "default.toml"
    path.write_text(text)
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        pytest.skip("tomllib (Python 3.11+) reads the TOML into a dict")
    as_dict = tomllib.loads(text)
    runs = [sptlab.run(source, backend="cpu", paths=100, years=1) for source in (text, path, str(path), as_dict)]
    for other in runs[1:]:
        assert differences(other.summary, runs[0].summary) == []
    assert differences(runs[0].summary, cli_summary(cli, tmp_path, "--paths", "100", "--years", "1")) == []


def test_history_beside_the_paths_equals_the_cli(cli, tmp_path):
    scenario = tmp_path / "b.toml"
    scenario.write_text(sptlab.example("bootstrap_sp500_20"))
    args = [scenario, "--paths", "200", "--years", "2", "--history", PRICES]
    expected = cli_summary(cli, tmp_path, *args)
    result = sptlab.run(scenario, backend="cpu", paths=200, years=2, history=PRICES)
    assert differences(result.summary, expected) == []
    assert result.table()["history_percentile"].between(0, 100).all()


def test_the_comparison_catches_one_changed_number(cli, tmp_path):
    """The mutation check: one number of the CLI's summary moved by one unit in the last
    place is found, and only it."""
    expected = cli_summary(cli, tmp_path, "--paths", "100", "--years", "1")
    result = sptlab.run(None, backend="cpu", paths=100, years=1)
    assert differences(result.summary, expected) == []
    mutated = copy.deepcopy(result.summary)
    stats = mutated["strategies"]["diversity-0.5"]["tracking_error"]
    import math

    stats["q75"] = math.nextafter(stats["q75"], math.inf)
    found = differences(mutated, expected)
    assert [place for place, _, _ in found] == [("strategies", "diversity-0.5", "tracking_error", "q75")]
    # A timing is not a difference; a changed seed is.
    mutated = copy.deepcopy(result.summary)
    mutated["run"]["seconds"] += 1.0
    assert differences(mutated, expected) == []
    mutated["manifest"]["seed"] += 1
    assert len(differences(mutated, expected)) == 1


def test_the_table_holds_the_printed_figures(tmp_path):
    result = sptlab.run(None, backend="cpu", paths=200, years=1)
    table = result.table()
    assert list(table.index) == list(result.summary["strategies"])
    for name, row in table.iterrows():
        growth = result.summary["strategies"][name]["relative_growth_rate"]
        assert row["relative_growth_rate"] == growth["controlled"]["mean"]
        # Half the controlled interval's width (Student's t with 198 degrees of freedom).
        half_width = (growth["controlled"]["high"] - growth["controlled"]["low"]) / 2
        assert row["relative_growth_rate_pm95"] == pytest.approx(half_width, rel=1e-12)
        assert half_width > 1.959963984540054 * growth["controlled"]["se"]
        assert row["tracking_error"] == result.summary["strategies"][name]["tracking_error"]["mean"]
        p = result.summary["strategies"][name]["p_outperform"]
        assert (row["p_outperform_low"], row["p_outperform"], row["p_outperform_high"]) == (p["low"], p["estimate"], p["high"])
        risk = result.summary["strategies"][name]
        assert row["volatility"] == risk["volatility"]["mean"]
        assert row["beta"] == risk["beta"]["mean"]
        assert row["p_outperform_less_risk"] == risk["p_outperform_less_risk"]["estimate"]
    # The printed table is the CLI's, with the same rows.
    text = str(result)
    assert all(name in text for name in table.index)
    assert "ranking (paired, 95%)" in text


# An index of the largest 10 of 20 stocks with a buffer, a screened strategy and costs
# (docs/open-markets.md), as a dict and as the TOML file the CLI reads.
OPEN_MARKET = {
    "name": "open", "seed": 3, "paths": 200, "years": 1.0,
    "market": {"model": "gbm", "n": 20, "zipf": 1.0, "vol": {"from": 0.2, "to": 0.5}, "correlation": 0.2},
    "benchmark": {"index": 10, "reconstitute_every": 21, "buffer": 2},
    "strategies": [
        {"name": "equal", "weighting": "equal", "rebalance_every": 21, "exclude": [0, 4]},
        {"name": "diversity", "weighting": "diversity", "p": 0.5, "cost_bps": 5.0},
    ],
}
OPEN_MARKET_TOML = """name = "open"
seed = 3
paths = 200
years = 1.0
[market]
model = "gbm"
n = 20
zipf = 1.0
vol = { from = 0.2, to = 0.5 }
correlation = 0.2
[benchmark]
index = 10
reconstitute_every = 21
buffer = 2
[[strategies]]
name = "equal"
weighting = "equal"
rebalance_every = 21
exclude = [0, 4]
[[strategies]]
name = "diversity"
weighting = "diversity"
p = 0.5
cost_bps = 5.0
"""


def test_an_index_scenario_as_a_dict_equals_the_cli(cli, tmp_path):
    scenario = tmp_path / "open.toml"
    scenario.write_text(OPEN_MARKET_TOML)
    expected = cli_summary(cli, tmp_path, scenario)
    result = sptlab.run(OPEN_MARKET, backend="cpu")
    assert differences(result.summary, expected) == []
    assert result.summary["benchmark"]["kind"] == "index"
    assert result.summary["strategies"]["equal"]["decomposition"]["leakage_term"]["mean"] < 0
    assert result.summary["strategies"]["equal"]["decomposition"]["screen_term"]["mean"] != 0
    # The per-path table has the index's row beside the market's.
    strategies = set(result.paths.column("strategy").to_pylist())
    assert strategies == {"market", "index", "equal", "diversity"}
    # The time grid's last point carries the leakage and screen terms' means.
    grid = result.grid
    last = grid[grid["step"] == grid["step"].max()].set_index("strategy")
    for name in ("equal", "diversity"):
        decomposition = result.summary["strategies"][name]["decomposition"]
        for term in ("leakage_term", "screen_term"):
            assert last.loc[name, term] == pytest.approx(decomposition[term]["mean"], abs=1e-9)
