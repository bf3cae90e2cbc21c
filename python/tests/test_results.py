"""Per-path tables, the time grid, saving, progress, the GIL, Ctrl-C, backtests, and
the small functions."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pyarrow as pa
import pytest

import sptlab

from conftest import INDEX, PRICES, differences, run_cli

# docs/statistics.md: paths.csv's (and paths.parquet's) columns.
DOCUMENTED_COLUMNS = [
    "path", "strategy", "log_return", "relative_log_return", "excess_return", "tracking_error",
    "information_ratio", "max_relative_drawdown", "turnover", "generating_term", "drift_term",
    "cost_term", "control_term", "leakage_term", "screen_term", "volatility", "beta", "size_tilt",
    "size_tilt_drift",
]


@pytest.fixture(scope="module")
def default_run():
    return sptlab.run(None, backend="cpu", paths=300, years=2, seed=11)


def test_per_path_tables_have_the_documented_columns_and_rows(default_run, cli, tmp_path):
    paths = default_run.paths
    assert isinstance(paths, pa.Table)
    assert paths.column_names == DOCUMENTED_COLUMNS
    strategies = len(default_run.summary["strategies"])
    assert paths.num_rows == 300 * (strategies + 1)
    frame = paths.to_pandas()
    assert sorted(frame["path"].unique()) == list(range(300))
    assert set(frame["strategy"]) == set(default_run.summary["strategies"]) | {"market"}
    # The same rows as the CLI's paths.csv of the same run.
    out = tmp_path / "out"
    done = run_cli(cli, "run", "--paths", 300, "--years", 2, "--seed", 11, "--backend", "cpu", "--quiet",
                   "--out", out, "--per-path", "--per-path-format", "csv")
    assert done.returncode == 0, done.stderr
    import pandas as pd

    csv = pd.read_csv(out / "paths.csv")
    assert list(csv.columns) == DOCUMENTED_COLUMNS
    equal = frame.reset_index(drop=True).compare(csv.astype(frame.dtypes.to_dict()), result_names=("python", "cli"))
    assert equal.empty, equal.head()
    # The mean of a column is the summary's mean.
    equal_rows = frame[frame["strategy"] == "equal"]
    assert equal_rows["tracking_error"].mean() == pytest.approx(
        default_run.summary["strategies"]["equal"]["tracking_error"]["mean"], rel=1e-12)
    # Risk beside return: the strategy's volatility and the market's on its row.
    assert equal_rows["volatility"].mean() == pytest.approx(
        default_run.summary["strategies"]["equal"]["volatility"]["mean"], rel=1e-12)
    market_rows = frame[frame["strategy"] == "market"]
    assert market_rows["volatility"].mean() == pytest.approx(
        default_run.summary["benchmark"]["volatility"]["mean"], rel=1e-12)
    assert (market_rows["beta"] == 1.0).all()


def test_the_grid_has_every_strategy_and_point(default_run):
    grid = default_run.grid
    strategies = list(default_run.summary["strategies"])
    points = grid["step"].nunique()
    assert points == 24  # two years, monthly
    assert len(grid) == len(strategies) * points
    assert list(grid["strategy"].unique()) == strategies
    assert (grid["q05"] <= grid["q25"]).all() and (grid["q25"] <= grid["q50"]).all()
    assert (grid["q50"] <= grid["q75"]).all() and (grid["q75"] <= grid["q95"]).all()
    assert grid["years"].max() == pytest.approx(2.0)
    last = grid[grid["step"] == grid["step"].max()].set_index("strategy")
    for name in strategies:
        relative = default_run.summary["strategies"][name]["relative_log_return"]
        # Sums in units of 2^-40: the last point's mean is the summary's to ~1e-12.
        assert last.loc[name, "mean_relative_log_return"] == pytest.approx(relative["mean"], abs=1e-9)
        # Quantiles within one histogram bin (0.003) of the paths' own.
        assert last.loc[name, "q50"] == pytest.approx(relative["q50"], abs=0.0031)
        decomposition = default_run.summary["strategies"][name]["decomposition"]
        assert last.loc[name, "drift_term"] == pytest.approx(decomposition["drift_term"]["mean"], abs=1e-9)


def test_save_writes_the_cli_files_under_its_rules(default_run, tmp_path):
    out = tmp_path / "saved"
    default_run.save(out, per_path="csv")
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert "summary.json" in names and "paths.csv" in names and "report.html" in names
    assert "fan_chart.svg" in names
    assert differences(json.loads((out / "summary.json").read_text()), default_run.summary) == []
    with pytest.raises(ValueError, match="force=True"):
        default_run.save(out)
    default_run.save(out, force=True)
    # A file sptlab did not write is never replaced or removed, even with force.
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    default_run.save(foreign)
    default_run.save(foreign, force=True)
    assert (foreign / "notes.txt").read_text() == "mine"
    # A path that is a file is not a folder to write into.
    with pytest.raises(ValueError, match="save: .*notes.txt: exists and is not a directory"):
        default_run.save(foreign / "notes.txt")
    assert (foreign / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="per_path"):
        default_run.save(tmp_path / "x", per_path="xlsx")
    default_run.save(tmp_path / "parquet", per_path=True)
    assert (tmp_path / "parquet" / "paths.parquet").is_file()


def test_progress_reaches_every_path():
    seen = []
    sptlab.run(None, backend="cpu", paths=4000, years=3, threads=1, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (4000, 4000)
    assert all(total == 4000 for _, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    # Within one batch (the CPU's default is 16,384 paths) the count moves block by block.
    assert any(0 < done < 4000 for done, _ in seen), seen


def test_a_failing_progress_callback_stops_the_run():
    calls = []

    def fail(done, total):
        calls.append(done)
        raise ZeroDivisionError("from the callback")

    started = time.perf_counter()
    with pytest.raises(ZeroDivisionError, match="from the callback"):
        # Minutes of work at full length; stopped within a block of 16 paths.
        sptlab.run(None, backend="cpu", paths=200_000, years=10, progress=fail)
    assert time.perf_counter() - started < 20
    assert len(calls) == 1


def test_the_gil_is_released_while_simulating():
    ticks = []
    running = threading.Event()
    finished = threading.Event()

    def count():
        running.wait()
        while not finished.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.002)

    counter = threading.Thread(target=count)
    counter.start()
    started = time.perf_counter()
    running.set()
    try:
        sptlab.run(None, backend="cpu", paths=3000, years=3, threads=1)
    finally:
        finished.set()
        counter.join()
    seconds = time.perf_counter() - started
    assert seconds > 0.5, f"the run took only {seconds:.2f} s: too short to tell"
    during = [t for t in ticks if t < started + seconds - 0.05]
    # A thread sleeping 2 ms per tick runs about 100 times in 0.5 s with the GIL free;
    # with the GIL held by the run it would stop for the whole run.
    assert len(during) > 50 * seconds, f"{len(during)} ticks in {seconds:.2f} s"
    gaps = [b - a for a, b in zip(during, during[1:])]
    assert max(gaps) < 0.5, f"the other thread stalled for {max(gaps):.2f} s"


def test_ctrl_c_interrupts_a_run():
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        # One default batch of 16,384 paths would take minutes here: the run stops within
        # the blocks of 16 paths in progress, not at the end of the batch.
        sptlab.run(None, backend="cpu", paths=200_000, years=10, threads=1)
    assert time.perf_counter() - started < 20
    # The interpreter and the engine go on working after the interruption.
    assert sptlab.run(None, backend="cpu", paths=20, years=0.1).summary["run"]["paths"] == 20


def test_paths_that_do_not_fit_raise_memory_error_not_an_abort():
    # Under an address-space limit just above what the finished run holds, the per-path
    # table (2 million rows) cannot be built: MemoryError, and the interpreter goes on.
    # (Before: the engine built the whole Parquet file in memory and aborted, SIGABRT.)
    script = """
import resource, sptlab, pyarrow.parquet
result = sptlab.run(None, backend="cpu", paths=400_000, years=0.02)
size = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize"))
limit = size * 1024 + (150 << 20)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    result.paths
    print("built")
except MemoryError as error:
    print("MemoryError", error)
print("alive", sptlab.run(None, backend="cpu", paths=20, years=0.1, threads=1).summary["run"]["paths"])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    lines = done.stdout.splitlines()
    assert lines[0].startswith("MemoryError"), lines
    assert lines[-1] == "alive 20", lines


def test_a_backtest_equals_the_cli_backtest(cli, tmp_path):
    out = tmp_path / "bt"
    done = run_cli(cli, "backtest", PRICES, "--from", "2012-01-03", "--benchmark", INDEX, "--quiet", "--out", out)
    assert done.returncode == 0, done.stderr
    result = sptlab.backtest(PRICES, start="2012-01-03", benchmark=INDEX)
    expected = json.loads((out / "summary.json").read_text())
    assert differences(result.summary, expected) == []
    series = result.series
    assert len(series) == expected["run"]["steps"] + 1
    assert series["date"].iloc[0].strftime("%Y-%m-%d") == "2012-01-03"
    table = result.table()
    assert table.loc["equal", "relative_growth_rate"] == expected["strategies"]["equal"]["relative_growth_rate"]["mean"]
    result.save(tmp_path / "saved")
    assert (tmp_path / "saved" / "backtest.csv").read_text() == (out / "backtest.csv").read_text()


def test_examples_info_and_bench():
    names = sptlab.examples()
    assert "default" in names and "bootstrap_sp500_20" in names
    with pytest.raises(ValueError, match="no example scenario named nope; there are: default"):
        sptlab.example("nope")
    info = sptlab.info()
    assert info["version"] and info["cpu_threads"] >= 1 and "auto_chooses" in info
    frame = sptlab.bench("standard", backend="cpu", paths=64, repeat=1)
    assert list(frame["precision"]) == ["f32", "f64"]
    assert (frame["asset_steps_per_second"] > 0).all()
    assert frame.loc[0, "asset_steps_per_second"] == pytest.approx(
        frame.loc[0, "stocks"] * frame.loc[0, "paths"] * frame.loc[0, "steps"] / frame.loc[0, "seconds"], rel=1e-9)
    with pytest.raises(ValueError, match="workload"):
        sptlab.bench("huge")


def test_the_sweep_example_runs(tmp_path):
    import pathlib
    import subprocess
    import sys

    script = pathlib.Path(__file__).resolve().parents[1] / "examples" / "sweep_p.py"
    figure = tmp_path / "sweep.svg"
    done = subprocess.run(
        [sys.executable, str(script), "--paths", "64", "--years", "0.5", "--backend", "cpu", "--out", str(figure)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("p = ")]
    assert len(lines) == 11
    assert figure.read_text().startswith("<?xml")


def test_a_gpu_run_matches_the_cpu_path_by_path():
    """The GPU backend from Python (its device driven from the worker thread): each
    path's relative log return within the engine tests' 2e-3 of CPU f64's. Needs a GPU
    adapter (lavapipe in CI, where SPTLAB_REQUIRE_GPU=1 makes its absence a failure)."""
    if not sptlab.info()["gpu_adapters"]:
        if os.environ.get("SPTLAB_REQUIRE_GPU") == "1":
            pytest.fail("no GPU adapter, and SPTLAB_REQUIRE_GPU=1")
        pytest.skip("no GPU adapter")
    scenario = {
        "name": "small",
        "seed": 5,
        "paths": 64,
        "years": 0.5,
        "market": {"n": 10, "zipf": 1.0, "growth": 0.07, "vol": {"from": 0.2, "to": 0.45}, "correlation": 0.3},
        "strategies": [
            {"name": "equal", "weighting": "equal", "rebalance_every": 21, "cost_bps": 10.0},
            {"name": "diversity-0.5", "weighting": "diversity", "p": 0.5},
        ],
    }
    gpu = sptlab.run(scenario, backend="gpu")
    assert gpu.summary["run"]["backend"] == "gpu"
    cpu = sptlab.run(scenario, backend="cpu", precision="f64")
    key = ["path", "strategy"]
    a = gpu.paths.to_pandas().sort_values(key).reset_index(drop=True)
    b = cpu.paths.to_pandas().sort_values(key).reset_index(drop=True)
    assert (a[key] == b[key]).all().all()
    gap = (a["relative_log_return"] - b["relative_log_return"]).abs().max()
    assert gap < 2e-3, gap
    with pytest.raises(ValueError, match="f64"):
        sptlab.run(None, backend="gpu", precision="f64", paths=10, years=0.1)


GPU_FAULT_SCRIPT = r"""
import json, sys
import sptlab
scenario = {
    "name": "small", "seed": 9, "paths": 32, "years": 0.1,
    "market": {"n": 5, "zipf": 1.0, "growth": 0.07, "vol": 0.3, "correlation": 0.3},
    "strategies": [{"name": "equal", "weighting": "equal"}],
}
out = {}
try:
    sptlab.run(scenario, backend="gpu")
    out["gpu"] = "ran"
except RuntimeError as error:
    out["gpu"] = "RuntimeError: " + str(error)
auto = sptlab.run(scenario, backend="auto")
cpu = sptlab.run(scenario, backend="cpu")
out["auto_backend"] = auto.summary["run"]["backend"]
out["auto_notes"] = auto.notes
out["same_strategies"] = auto.summary["strategies"] == cpu.summary["strategies"]
print(json.dumps(out))
"""


@pytest.mark.parametrize("fault, cause", [("shader", "parsing error"), ("lost", "the GPU device was lost")])
def test_a_gpu_failure_raises_runtime_error_and_auto_falls_back(fault, cause):
    """Real wgpu failures, provoked by SPTLAB_GPU_FAULT (read once per process, so in a
    child): backend="gpu" raises RuntimeError with the cause; "auto" (allowed the software
    adapter) runs on the CPU instead, with a note, and gives the CPU's numbers."""
    import subprocess
    import sys

    if not sptlab.info()["gpu_adapters"]:
        if os.environ.get("SPTLAB_REQUIRE_GPU") == "1":
            pytest.fail("no GPU adapter, and SPTLAB_REQUIRE_GPU=1")
        pytest.skip("no GPU adapter")
    env = dict(os.environ, SPTLAB_GPU_FAULT=fault, SPTLAB_AUTO_SOFTWARE_GPU="1")
    done = subprocess.run([sys.executable, "-c", GPU_FAULT_SCRIPT], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["gpu"].startswith("RuntimeError: ") and cause in out["gpu"], out["gpu"]
    assert "panicked" not in out["gpu"]
    assert out["auto_backend"] == "cpu"
    assert any("the GPU run failed" in note and cause in note for note in out["auto_notes"]), out["auto_notes"]
    assert out["same_strategies"]


def test_ctrl_c_interrupts_a_benchmark():
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        # Many minutes at full length (five timed runs of 200,000 paths on CPU f32, then f64).
        sptlab.bench("standard", backend="cpu", paths=200_000, repeat=5)
    assert time.perf_counter() - started < 20
