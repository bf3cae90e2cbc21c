"""Shared fixtures: the repository, the command-line binary the Python results are
compared with (built by `cargo build --release`; its absence is a failure, not a
skip), and a comparison of two summary.json dicts that lists every difference."""

import json
import math
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PRICES = REPO / "examples" / "data" / "sp500_20_stocks_1990_2022.csv"
INDEX = REPO / "examples" / "data" / "sp500_index_1990_2022.csv"

# What differs between two runs of the same scenario and seed by design: the time they
# took and the text naming the machine (docs/python.md; the exceptions).
VOLATILE = {
    ("run", "seconds"),
    ("run", "asset_steps_per_second"),
    ("run", "adapter"),
    ("manifest", "adapter"),
}


@pytest.fixture(scope="session")
def cli() -> pathlib.Path:
    binary = pathlib.Path(os.environ.get("SPTLAB_BIN", REPO / "target" / "release" / "sptlab"))
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: run `cargo build --release` first (or set SPTLAB_BIN)")
    return binary


def run_cli(cli, *args, cwd=None):
    """Runs the binary; its stdout, stderr and exit status."""
    done = subprocess.run([str(cli), *map(str, args)], capture_output=True, text=True, cwd=cwd)
    return done


def cli_summary(cli, tmp_path, *args):
    """summary.json of `sptlab run ARGS --out DIR`."""
    out = tmp_path / "cli-out"
    done = run_cli(cli, "run", *args, "--backend", "cpu", "--quiet", "--out", out)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "summary.json").read_text())


def differences(a, b, at=()):
    """Every place where two JSON values differ, as (key path, a's value, b's value);
    numbers must be equal exactly (the same engine on the same paths), NaN equal to NaN."""
    if at in VOLATILE:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                found.append((at + (key,), a.get(key, "<missing>"), b.get(key, "<missing>")))
            else:
                found.extend(differences(a[key], b[key], at + (key,)))
        return found
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [(at, f"{len(a)} items", f"{len(b)} items")]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, at + (i,))]
    both_nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    if a != b and not both_nan or type(a) is not type(b):
        return [(at, a, b)]
    return []
