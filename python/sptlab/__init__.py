"""sptlab: Stochastic Portfolio Theory Monte Carlo on GPU and CPU, from Python.

Every number comes from the Rust engine (``sptlab._native``); this module only turns
its JSON and Parquet into dicts, pandas DataFrames and Arrow tables::

    import sptlab
    result = sptlab.run(sptlab.example("default"), paths=2_000)
    print(result.table())                 # the terminal table as a DataFrame
    result.summary["strategies"]          # summary.json as a dict
    result.paths.to_pandas()              # every path's statistics
    result.grid                           # the time grid: means and quantiles of L(t)
    result.save("out")                    # the files of `sptlab run --out out`

Scenarios are a path (a scenario file), TOML text, or a dict of the file's keys.
Bad input raises ``ValueError`` with the command line's messages, one problem per
line; a GPU that fails raises ``RuntimeError``; Ctrl-C stops a run at the end of the
batch in progress and raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import datetime as _datetime
import io as _io
import json as _json
import os as _os
from typing import Any, Callable, Dict, List, Optional, Union

from . import _native

__all__ = [
    "run",
    "backtest",
    "example",
    "examples",
    "bench",
    "info",
    "Result",
    "BacktestResult",
]

__version__ = "0.1.0"

ScenarioLike = Union[None, str, "_os.PathLike[str]", Dict[str, Any]]
ProgressLike = Union[bool, str, Callable[[int, int], Any]]


def _json_default(value: Any) -> Any:
    """JSON for values a scenario dict may hold besides plain Python ones."""
    if isinstance(value, (_datetime.date, _datetime.datetime)):
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, _os.PathLike):
        return _os.fspath(value)
    raise TypeError(f"scenario dict: a {type(value).__name__} is not a scenario value")


def _source(scenario: ScenarioLike) -> "tuple[str, str]":
    """(kind, text) of a scenario argument, as ``_native`` takes it."""
    if scenario is None:
        return "default", ""
    if isinstance(scenario, dict):
        return "json", _json.dumps(scenario, default=_json_default)
    if isinstance(scenario, _os.PathLike):
        return "file", _os.fspath(scenario)
    if isinstance(scenario, str):
        # A string naming an existing file is a scenario file; so is a one-line string
        # ending in .toml (a missing file is then reported as such, not as bad TOML).
        one_line = "\n" not in scenario and "=" not in scenario
        if _os.path.isfile(scenario) or (one_line and scenario.endswith(".toml")):
            return "file", scenario
        return "toml", scenario
    raise TypeError(
        f"scenario: a path, TOML text or a dict, not {type(scenario).__name__}"
    )


def _path(value: Any, name: str) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, (str, _os.PathLike)):
        return _os.fspath(value)
    raise TypeError(f"{name}: a path, not {type(value).__name__}")


def _progress_callback(progress: ProgressLike) -> "tuple[Optional[Callable[[int, int], Any]], Any]":
    """The callback ``_native.run`` calls with (paths done, paths), and a tqdm bar to close."""
    if progress is False or progress is None:
        return None, None
    if callable(progress):
        return progress, None
    if progress is True or progress == "tqdm":
        try:
            from tqdm.auto import tqdm
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ImportError("progress=True shows a tqdm bar: pip install tqdm") from error
        bar = tqdm(total=None, unit="paths", desc="sptlab")

        def advance(done: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        return advance, bar
    raise ValueError(f"progress={progress!r}: must be False, True, 'tqdm' or a callable(done, total)")


class Result:
    """A finished simulation: the same figures ``sptlab run`` prints and writes."""

    def __init__(self, native: "_native.NativeRun", per_path: Optional[str]) -> None:
        self._native = native
        self._per_path = per_path
        self._summary: Optional[Dict[str, Any]] = None
        self._paths = None
        self._grid = None

    @property
    def summary(self) -> Dict[str, Any]:
        """summary.json as a dict (SPT.md defines every number in it)."""
        if self._summary is None:
            self._summary = _json.loads(self._native.summary_json())
        return self._summary

    def table(self):
        """The terminal table as a pandas DataFrame, one row per strategy (fractions, not %)."""
        import pandas as pd

        rows = _json.loads(self._native.table_json())
        return pd.DataFrame(rows).set_index("strategy")

    @property
    def paths(self):
        """Every path's statistics as a pyarrow Table (``.to_pandas()`` for pandas):
        the columns of paths.parquet, one row per path and strategy plus the market's."""
        if self._paths is None:
            import pyarrow.parquet as pq

            self._paths = pq.read_table(_io.BytesIO(self._native.paths_parquet()))
        return self._paths

    @property
    def grid(self):
        """The time grid (about monthly): per strategy and point, the mean and quantiles
        over paths of L(t) = log(V/V_market) and the mean decomposition terms so far."""
        if self._grid is None:
            import pandas as pd

            self._grid = pd.DataFrame(_json.loads(self._native.grid_json()))
        return self._grid

    @property
    def notes(self) -> List[str]:
        """What the run said on the way (a fall-back to the CPU, say)."""
        return list(self._native.notes())

    def save(self, dir: Union[str, "_os.PathLike[str]"], *, per_path: Optional[str] = None,
             png: bool = False, force: bool = False) -> None:
        """Writes the files of ``sptlab run --out DIR`` into ``dir`` under the same rules:
        a new or empty folder, or one holding an earlier sptlab run's files with
        ``force=True``; nothing sptlab did not write is replaced. ``per_path``: "csv" or
        "parquet" (default: the run's ``per_path`` option)."""
        per_path = per_path if per_path is not None else self._per_path
        self._native.save(_path(dir, "dir"), per_path=per_path, png=png, force=force)

    def __str__(self) -> str:
        return self._native.table_text()

    def __repr__(self) -> str:
        summary = self.summary
        run = summary["run"]
        return (
            f"<sptlab.Result {summary['scenario']['name']}: {run['paths']} paths x {run['steps']} steps, "
            f"{len(summary['strategies'])} strategies, {run['backend']} backend>"
        )


class BacktestResult:
    """A backtest: the strategies on the data's one historical path."""

    def __init__(self, native: "_native.NativeBacktest") -> None:
        self._native = native
        self._summary: Optional[Dict[str, Any]] = None

    @property
    def summary(self) -> Dict[str, Any]:
        """summary.json of ``sptlab backtest --out`` as a dict."""
        if self._summary is None:
            self._summary = _json.loads(self._native.summary_json())
        return self._summary

    def table(self):
        """Each strategy's statistics on the path (summary.json's values) as a DataFrame."""
        import pandas as pd

        rows = {
            name: {key: value["mean"] for key, value in stats.items() if isinstance(value, dict) and "mean" in value}
            for name, stats in self.summary["strategies"].items()
        }
        return pd.DataFrame.from_dict(rows, orient="index")

    @property
    def series(self):
        """backtest.csv as a DataFrame: per date, the market's and each strategy's log
        values and the decomposition's terms to date."""
        import pandas as pd

        return pd.read_csv(_io.StringIO(self._native.series_csv()), parse_dates=["date"])

    def save(self, dir: Union[str, "_os.PathLike[str]"], *, png: bool = False, force: bool = False) -> None:
        """Writes the files of ``sptlab backtest --out DIR`` into ``dir``."""
        self._native.save(_path(dir, "dir"), png=png, force=force)

    def __str__(self) -> str:
        return self._native.table_text()


def run(
    scenario: ScenarioLike = None,
    *,
    paths: Optional[int] = None,
    years: Optional[float] = None,
    seed: Optional[int] = None,
    backend: str = "auto",
    precision: str = "f32",
    threads: Optional[int] = None,
    batch_paths: Optional[int] = None,
    control_variate: Optional[str] = None,
    antithetic: Optional[bool] = None,
    per_path: Union[bool, str] = False,
    history: Union[None, str, "_os.PathLike[str]"] = None,
    caps: bool = False,
    progress: ProgressLike = False,
) -> Result:
    """Simulates a scenario and summarises it, as ``sptlab run`` does.

    ``scenario``: a scenario file's path, TOML text, a dict of the file's keys, or None
    for the default scenario. ``paths``, ``years``, ``seed``, ``control_variate``
    ("martingale" or "none") and ``antithetic`` override the scenario's. ``backend``:
    "auto" (a hardware GPU when there is one, else the CPU), "cpu" or "gpu";
    ``precision``: "f32" or "f64" (CPU). ``history``: a daily CSV to backtest beside the
    paths (``run --history``; ``caps=True`` when it holds capitalisations).
    ``per_path``: the per-path file ``save`` writes by default (True or "parquet", or
    "csv"); ``.paths`` is there either way. ``progress``: True (a tqdm bar) or a
    callable(done, total). The GIL is released while the paths are simulated.
    """
    kind, text = _source(scenario)
    if per_path is True:
        per_path = "parquet"
    elif per_path is False:
        per_path = None
    elif per_path not in ("csv", "parquet"):
        raise ValueError(f"per_path={per_path!r}: must be False, True, 'csv' or 'parquet'")
    callback, bar = _progress_callback(progress)
    try:
        native = _native.run(
            kind,
            text,
            paths=paths,
            years=years,
            seed=seed,
            backend=backend,
            precision=precision,
            threads=threads,
            batch_paths=batch_paths,
            control_variate=control_variate,
            antithetic=antithetic,
            history=_path(history, "history"),
            caps=caps,
            progress=callback,
        )
    finally:
        if bar is not None:
            bar.close()
    return Result(native, per_path)


def backtest(
    data: Union[str, "_os.PathLike[str]"],
    *,
    scenario: ScenarioLike = None,
    caps: bool = False,
    start: Optional[str] = None,
    end: Optional[str] = None,
    benchmark: Union[None, str, "_os.PathLike[str]"] = None,
) -> BacktestResult:
    """The scenario's strategies on a daily CSV's one path, in f64, as ``sptlab backtest``
    does: ``start``/``end`` are its ``--from``/``--to`` (YYYY-MM-DD), ``benchmark`` a price
    index CSV, ``caps=True`` when the data are capitalisations."""
    kind, text = _source(scenario)
    if isinstance(start, _datetime.date):
        start = start.isoformat()
    if isinstance(end, _datetime.date):
        end = end.isoformat()
    native = _native.backtest(
        _path(data, "data"), kind, text, caps=caps, start=start, end=end, benchmark=_path(benchmark, "benchmark")
    )
    return BacktestResult(native)


def example(name: str) -> str:
    """A shipped example scenario's TOML text (``sptlab example NAME``)."""
    return _native.example(name)


def examples() -> List[str]:
    """The shipped example scenarios' names."""
    return list(_native.example_names())


def info() -> Dict[str, Any]:
    """What ``sptlab info`` reports: version, CPU kernel, GPU adapters, what auto chooses."""
    return _json.loads(_native.info_json())


def bench(
    workload: str = "standard",
    *,
    backend: str = "all",
    paths: Optional[int] = None,
    gpu_paths: Optional[int] = None,
    repeat: int = 3,
    efficiency: bool = False,
):
    """``sptlab bench``'s measurements as a DataFrame, one row per workload and backend:
    seconds, asset-steps per second, ratios measured in this run, and the largest gap
    from CPU f64. ``workload``: "standard", "large", "rank" or "all"; ``backend``:
    "all", "cpu" or "gpu"."""
    import pandas as pd

    rows = _json.loads(
        _native.bench_json(workload, backend, paths, gpu_paths, repeat, efficiency)
    )
    return pd.DataFrame(rows)
