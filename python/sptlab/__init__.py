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
line; a GPU that fails raises ``RuntimeError``; Ctrl-C stops a run (on the CPU within
the blocks of 16 paths in progress, on a GPU between batches) and raises
``KeyboardInterrupt``.
"""

from __future__ import annotations

import datetime as _datetime
import io as _io
import json as _json
import logging as _logging
import math as _math
import os as _os
import warnings as _warnings
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
    "LongBacktestResult",
]

__version__ = "0.1.0"

_logger = _logging.getLogger("sptlab")

ScenarioLike = Union[None, str, "_os.PathLike[str]", Dict[str, Any]]
ProgressLike = Union[bool, str, Callable[[int, int], Any]]


def _date_text(value: Any) -> Any:
    """A date (or a datetime's date) as YYYY-MM-DD, as the scenario file writes dates."""
    if isinstance(value, _datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, _datetime.date):
        return value.isoformat()
    return value


def _json_default(value: Any) -> Any:
    """JSON for values a scenario dict may hold besides plain Python ones."""
    if isinstance(value, _datetime.date):
        return _date_text(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, _os.PathLike):
        return _os.fspath(value)
    raise TypeError(f"scenario dict: a {type(value).__name__} is not a scenario value")


def _first_key(value: Any, at: str, bad: Callable[[Any], bool]) -> Optional[str]:
    """The key path (``market.vol``, ``strategies[0].p``) of the first value in a
    scenario dict for which ``bad`` holds."""
    if bad(value):
        return at
    if isinstance(value, dict):
        for key, item in value.items():
            found = _first_key(item, f"{at}.{key}" if at else str(key), bad)
            if found:
                return found
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _first_key(item, f"{at}[{index}]", bad)
            if found:
                return found
    return None


def _non_finite(value: Any) -> bool:
    """A NaN or infinite float (JSON, which carries a dict to the engine, has none)."""
    return isinstance(value, float) and not _math.isfinite(value)


_TOML_INTEGERS = range(-(2**63), 2**63)


def _out_of_range(value: Any) -> bool:
    """An integer no scenario value can hold (a scenario's integers are 64-bit, as
    TOML's are; JSON would carry a larger one to the engine as a float and lose it)."""
    return isinstance(value, int) and not isinstance(value, bool) and value not in _TOML_INTEGERS


def _source(scenario: ScenarioLike) -> "tuple[str, str]":
    """(kind, text) of a scenario argument, as ``_native`` takes it."""
    if scenario is None:
        return "default", ""
    if isinstance(scenario, dict):
        key = _first_key(scenario, "", _non_finite)
        if key is not None:
            raise ValueError(f"scenario dict: {key}: must be a finite number")
        key = _first_key(scenario, "", _out_of_range)
        if key is not None:
            raise ValueError(f"scenario dict: {key}: must be a whole number from -2**63 to 2**63 - 1")
        return "json", _json.dumps(scenario, default=_json_default, allow_nan=False)
    if isinstance(scenario, _os.PathLike):
        return "file", _os.fspath(scenario)
    if isinstance(scenario, str):
        # A string naming an existing file is a scenario file; so is a one-line string
        # ending in .toml (a missing file is then reported as such, not as bad TOML).
        one_line = "\n" not in scenario and "=" not in scenario
        if _os.path.exists(scenario) or (one_line and scenario.endswith(".toml")):
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
        bars: List[Any] = []  # made at the first report, so bad input shows no bar

        def advance(done: int, total: int) -> None:
            if not bars:
                bars.append(tqdm(total=total, unit="paths", desc="sptlab"))
            bars[0].update(done - bars[0].n)

        return advance, bars
    raise ValueError(f"progress={progress!r}: must be False, True, 'tqdm' or a callable(done, total)")


def _per_path_format(per_path: Union[bool, str, None]) -> Optional[str]:
    """The per-path file's format: True is Parquet, False or None none."""
    if per_path is True:
        return "parquet"
    if per_path is False or per_path is None:
        return None
    if per_path in ("csv", "parquet"):
        return per_path
    raise ValueError(f"per_path={per_path!r}: must be False, True, 'csv' or 'parquet'")


def _check_count(name: str, value: Any) -> None:
    """A whole-number option: negative or beyond 64 bits is bad input naming it (the
    engine checks the range that matters, such as paths >= 1)."""
    if isinstance(value, bool):
        # A bool is an int to Python (True == 1): paths=True would run one path.
        raise TypeError(f"{name}={value}: must be a whole number, not a bool")
    if value is None or not isinstance(value, int):
        return  # None is the default; a wrong type is the extension's TypeError naming the argument
    if not 0 <= value < 2**64:
        raise ValueError(f"{name}={value}: must be a whole number from 0 to 2**64 - 1")


class _Finished:
    """What a run and a backtest share: the native result, its summary.json as a dict
    (read once), and the table as the command line prints it."""

    def __init__(self, native: Any) -> None:
        self._native = native
        self._summary: Optional[Dict[str, Any]] = None

    @property
    def summary(self) -> Dict[str, Any]:
        """summary.json as a dict (docs/statistics.md defines every number in it)."""
        if self._summary is None:
            self._summary = _json.loads(self._native.summary_json())
        return self._summary

    def __str__(self) -> str:
        return self._native.table_text()


class Result(_Finished):
    """A finished simulation: the same figures ``sptlab run`` prints and writes."""

    def __init__(self, native: "_native.NativeRun", per_path: Optional[str]) -> None:
        super().__init__(native)
        self._per_path = per_path
        self._paths = None
        self._grid = None

    def table(self):
        """The terminal table as a pandas DataFrame, one row per strategy (fractions, not %)."""
        import pandas as pd

        rows = _json.loads(self._native.table_json())
        return pd.DataFrame(rows).set_index("strategy")

    @property
    def paths(self):
        """Every path's statistics as a pyarrow Table (``.to_pandas()`` for pandas):
        the columns of paths.parquet, one row per path and strategy plus the market's
        (and the index's, with an index benchmark).

        The engine writes the table to a temporary file one row group at a time and
        pyarrow reads it from there, so memory holds one copy of it, not three; when
        that does not fit, MemoryError. It is read with the system allocator, on this
        thread, without pre-buffering: under an address-space limit (ulimit -v)
        pyarrow's default allocator and its threads hang where malloc fails cleanly."""
        if self._paths is None:
            import tempfile

            import pyarrow as pa
            import pyarrow.parquet as pq

            with tempfile.TemporaryDirectory(prefix="sptlab-") as folder:
                file = _os.path.join(folder, "paths.parquet")
                self._native.write_paths_parquet(file)
                previous = pa.default_memory_pool()
                pa.set_memory_pool(pa.system_memory_pool())
                try:
                    reader = pq.ParquetFile(file, memory_map=False, pre_buffer=False)
                    self._paths = reader.read(use_threads=False)
                finally:
                    pa.set_memory_pool(previous)
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
        per_path = _per_path_format(per_path) if per_path is not None else self._per_path
        self._native.save(_path(dir, "dir"), per_path=per_path, png=png, force=force)

    def __repr__(self) -> str:
        summary = self.summary
        run = summary["run"]
        return (
            f"<sptlab.Result {summary['scenario']['name']}: {run['paths']} paths x {run['steps']} steps, "
            f"{len(summary['strategies'])} strategies, {run['backend']} backend>"
        )


class BacktestResult(_Finished):
    """A backtest: the strategies on the data's one historical path (``.summary`` is
    summary.json of ``sptlab backtest --out``)."""

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
    per_path_format = _per_path_format(per_path)
    for name, value in (("paths", paths), ("seed", seed), ("threads", threads), ("batch_paths", batch_paths)):
        _check_count(name, value)
    if isinstance(years, bool):
        raise TypeError(f"years={years}: must be a number of years, not a bool")
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
        for opened in bar or []:
            opened.close()
    result = Result(native, per_path_format)
    # What the command line prints on stderr: a GPU that failed and gave way to the CPU
    # is a warning; the rest (auto choosing the CPU, say) goes to the "sptlab" logger.
    for note in result.notes:
        if "the GPU run failed" in note:
            _warnings.warn(note, RuntimeWarning, stacklevel=2)
        else:
            _logger.info(note)
    return result


class LongBacktestResult(_Finished):
    """A backtest on a long file (an open universe: stocks listing and delisting, an
    index benchmark, screens by id): ``.summary`` is summary.json of ``sptlab backtest
    --out``, its strategies a list with the decomposition's six terms."""

    def table(self):
        """Each strategy's statistics and terms (summary.json's) as a DataFrame by name."""
        import pandas as pd

        return pd.DataFrame.from_dict(self.summary["strategies"], orient="index")

    @property
    def series(self):
        """backtest.csv as a DataFrame: at sampled dates, the benchmark's log value and
        each strategy's relative log return L to date."""
        import pandas as pd

        return pd.read_csv(_io.StringIO(self._native.series_csv()), parse_dates=["date"])

    def save(self, dir: Union[str, "_os.PathLike[str]"], *, force: bool = False) -> None:
        """Writes the files of ``sptlab backtest --out DIR`` into ``dir``."""
        self._native.save(_path(dir, "dir"), force=force)


def _long_frame(data: Any) -> Any:
    """A pandas DataFrame or pyarrow Table as a pyarrow Table, else None."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return None
    if isinstance(data, pa.Table):
        return data
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        return None
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    return None


def backtest(
    data: Any,
    *,
    scenario: ScenarioLike = None,
    caps: bool = False,
    start: Optional[str] = None,
    end: Optional[str] = None,
    benchmark: Union[None, str, "_os.PathLike[str]"] = None,
    missing_delisting_return: Optional[float] = None,
) -> Union[BacktestResult, LongBacktestResult]:
    """The scenario's strategies on the data's one path, in f64, as ``sptlab backtest``
    does. ``data``: a daily CSV's path (wide, ``Date,TICKER,...``, or long, one row per
    stock and date, told by its header; or a long Parquet file), or a pandas DataFrame or
    pyarrow Table in the long format (``date, id, cap`` or ``price, shares``, optional
    ``return``, ``delisting_return``; CRSP's ``PERMNO, PRC, SHROUT, RET, DLRET``).
    ``start``/``end`` are its ``--from``/``--to`` (YYYY-MM-DD). A wide file takes
    ``benchmark`` (a price index CSV) and ``caps=True`` when it holds capitalisations; a
    long one ``missing_delisting_return`` (the return of a delisting its rows lack)."""
    kind, text = _source(scenario)
    start, end = _date_text(start), _date_text(end)
    table = _long_frame(data)
    if table is not None:
        import tempfile

        import pyarrow.parquet as pq

        if caps or benchmark is not None:
            raise ValueError("caps, benchmark: a long DataFrame gives its caps and its benchmark is [benchmark]")
        # Through a temporary Parquet file: the reader streams it as it would the user's own.
        with tempfile.TemporaryDirectory(prefix="sptlab-") as folder:
            path = _os.path.join(folder, "data.parquet")
            pq.write_table(table, path, compression="snappy")
            long_native = _native.backtest_long(
                path, kind, text, start=start, end=end, missing_delisting_return=missing_delisting_return
            )
        return LongBacktestResult(long_native)
    data_path = _path(data, "data")
    if data_path is None:
        raise TypeError("data: a path to a daily CSV or Parquet file, or a DataFrame, not None")
    if _native.is_long_file(data_path):
        if caps or benchmark is not None:
            raise ValueError("caps, benchmark: a long file gives its caps and its benchmark is [benchmark]")
        long_native = _native.backtest_long(
            data_path, kind, text, start=start, end=end, missing_delisting_return=missing_delisting_return
        )
        return LongBacktestResult(long_native)
    if missing_delisting_return is not None:
        raise ValueError("missing_delisting_return: a wide table has no delistings; it takes a long file")
    native = _native.backtest(
        data_path, kind, text, caps=caps, start=start, end=end, benchmark=_path(benchmark, "benchmark")
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
    from CPU f64. ``workload``: "standard", "large", "rank", "max_growth" or "all"; ``backend``:
    "all", "cpu" or "gpu"."""
    import pandas as pd

    for name, value in (("paths", paths), ("gpu_paths", gpu_paths), ("repeat", repeat)):
        _check_count(name, value)
    rows = _json.loads(
        _native.bench_json(workload, backend, paths, gpu_paths, repeat, efficiency)
    )
    return pd.DataFrame(rows)
