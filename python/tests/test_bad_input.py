"""Bad input raises ValueError with the command line's messages (every problem, one per
line), naming the field; nothing runs and nothing is written."""

import pytest

import sptlab

from conftest import PRICES, run_cli


def problems(excinfo):
    return str(excinfo.value).splitlines()


def test_a_dict_with_bad_keys_names_each():
    scenario = {
        "paths": 1.5,
        "market": {"n": 3, "sigmaa": 0.2},
        "strategies": [{"name": "e", "weighting": "equal"}],
    }
    with pytest.raises(ValueError) as excinfo:
        sptlab.run(scenario)
    lines = problems(excinfo)
    assert len(lines) == 2, lines
    assert lines[0].startswith("scenario dict: paths: ")
    assert lines[1].startswith("scenario dict: market.sigmaa: ") and "unknown field" in lines[1]


def test_a_none_value_in_a_dict_is_named():
    with pytest.raises(ValueError, match=r"scenario dict: market\.mu: None is not a value"):
        sptlab.run({"market": {"n": 3, "mu": None}})


@pytest.mark.parametrize(
    "scenario, options, field",
    [
        (None, {"paths": 0}, "paths"),
        (None, {"years": float("nan")}, "years"),
        (None, {"years": -1.0}, "years"),
        (None, {"backend": "tpu"}, "backend"),
        (None, {"precision": "f16"}, "precision"),
        (None, {"threads": 0}, "threads"),
        (None, {"batch_paths": 0}, "batch_paths"),
        (None, {"control_variate": "bogus"}, "control_variate"),
        (None, {"antithetic": True, "paths": 301}, "antithetic"),
        (None, {"caps": True}, "caps"),
        (None, {"history": PRICES}, "stock"),
        ({"market": {"n": 2, "vol": -0.2, "correlation": 0.3}, "strategies": [{"name": "e", "weighting": "equal"}]},
         {}, "market.vol"),
        ({"market": {"n": 2, "vol": 0.2, "correlation": 0.3, "initial_weights": [0.7, -0.3]},
          "strategies": [{"name": "e", "weighting": "equal"}]}, {}, "initial_weights"),
        ({"market": {"n": 2, "vol": 0.2, "correlation": 0.3},
          "strategies": [{"name": "d", "weighting": "diversity", "p": float("inf")}]}, {}, "strategies[0].p: must be a finite number"),
        (None, {"paths": -1}, "paths=-1"),
        (None, {"seed": 2**64}, "seed="),
        (None, {"batch_paths": 10**30}, "batch_paths="),
        (None, {"precision": "f64", "backend": "gpu", "paths": 10}, 'precision="f64" is available on the CPU backend only'),
        ("[market]\nn = 3\nsigma = ", {}, "line 3"),
        ("missing.toml", {}, "cannot read the scenario"),
    ],
)
def test_bad_input_raises_value_error_naming_the_field(scenario, options, field):
    with pytest.raises(ValueError) as excinfo:
        sptlab.run(scenario, **options)
    assert field in str(excinfo.value), str(excinfo.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValueError) as excinfo:
        sptlab.run(None, paths=0, backend="tpu", threads=0)
    lines = problems(excinfo)
    assert any(line.startswith("backend=") for line in lines)
    assert any(line.startswith("threads: ") for line in lines)
    assert any("paths" in line and line.startswith("default scenario: ") for line in lines)


def test_the_messages_are_the_cli_messages(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\npaths = 0\n[market]\nn = 3\nvol = -0.1\ncorrelation = 0.3\n[[strategies]]\nname = "e"\nweighting = "equal"\n')
    done = run_cli(cli, "run", bad, "--quiet")
    assert done.returncode == 2
    cli_lines = [line.removeprefix("error: ") for line in done.stderr.splitlines()]
    with pytest.raises(ValueError) as excinfo:
        sptlab.run(bad)
    assert problems(excinfo) == cli_lines
    assert len(cli_lines) >= 2


def test_bad_backtest_input_raises_value_error(tmp_path):
    with pytest.raises(ValueError, match="^start: 1980-01-01 is outside .*, which runs from"):
        sptlab.backtest(PRICES, start="1980-01-01")
    import datetime

    with pytest.raises(ValueError, match="^start: 1980-01-01 is outside .*, which runs from"):
        sptlab.backtest(PRICES, start=datetime.datetime(1980, 1, 1, 12, 30))
    empty = tmp_path / "empty.csv"
    empty.write_text("Date,A\n")
    with pytest.raises(ValueError):
        sptlab.backtest(empty)
    with pytest.raises(TypeError):
        sptlab.run(42)


def test_a_missing_history_file_is_the_history_arguments_problem():
    with pytest.raises(ValueError) as excinfo:
        sptlab.run({"market": {"n": 2, "vol": 0.2, "correlation": 0.3},
                    "strategies": [{"name": "e", "weighting": "equal"}]}, history="/nonexistent/prices.csv")
    lines = problems(excinfo)
    assert lines == ["history: /nonexistent/prices.csv: cannot read: No such file or directory (os error 2)"], lines


def test_an_integer_beyond_64_bits_in_a_dict_is_named_as_such():
    with pytest.raises(ValueError) as excinfo:
        sptlab.run({"paths": 10**30, "market": {"n": 2, "vol": 0.2, "correlation": 0.3}})
    message = str(excinfo.value)
    assert message == "scenario dict: paths: must be a whole number from -2**63 to 2**63 - 1", message
    assert "floating point" not in message


@pytest.mark.parametrize("options", [{"paths": True}, {"seed": False}, {"threads": True}, {"years": True}])
def test_a_bool_is_not_a_count(options):
    # True == 1 to Python: paths=True would run one path.
    with pytest.raises(TypeError, match=f"^{next(iter(options))}=(True|False): must be a"):
        sptlab.run(None, **options)
