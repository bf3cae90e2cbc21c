#!/usr/bin/env bash
# paths.parquet read back by an independent reader (pyarrow, in a virtual environment
# made here when missing) and compared value for value with paths.csv of the same run.
# Usage: tests/parquet/check.sh [path/to/sptlab]
set -euo pipefail
cd "$(dirname "$0")/../.."
sptlab=$(realpath "${1:-target/release/sptlab}")
work=$(mktemp -d /tmp/sptlab-parquet.XXXXXX)
venv=${SPTLAB_PYARROW_VENV:-/tmp/sptlab-pyarrow-venv}
if ! "$venv/bin/python" -c "import pyarrow.parquet" 2>/dev/null; then
  echo "== installing pyarrow into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q pyarrow
fi
cat > "$work/scenario.toml" <<'TOML'
name = "parquet-check"
seed = 3
paths = 700
years = 1.0
[market]
n = 10
zipf = 1.0
growth = 0.05
vol = { from = 0.2, to = 0.4 }
correlation = 0.3
[[strategies]]
name = "equal"
weighting = "equal"
rebalance_every = 21
cost_bps = 10.0
[[strategies]]
name = "capped"
weighting = "capped"
cap = 0.2
TOML
"$sptlab" run "$work/scenario.toml" --backend cpu --quiet --per-path --out "$work/parquet"
"$sptlab" run "$work/scenario.toml" --backend cpu --quiet --per-path --per-path-format csv --out "$work/csv"
"$venv/bin/python" - "$work/parquet/paths.parquet" "$work/csv/paths.csv" <<'PY'
import csv, math, sys
import pyarrow.parquet as pq
table = pq.read_table(sys.argv[1])
rows = list(csv.DictReader(open(sys.argv[2])))
assert table.num_rows == len(rows) == 700 * 3, (table.num_rows, len(rows))
assert table.column_names == list(rows[0].keys()), (table.column_names, list(rows[0].keys()))
columns = table.to_pydict()
for i, row in enumerate(rows):
    for name, text in row.items():
        value = columns[name][i]
        if name == "strategy":
            assert value == text, (i, name, value, text)
        elif text == "":
            assert value is None, (i, name, value)  # not functionally generated: null
        else:
            assert value is not None and float(text) == float(value), (i, name, value, text)
nulls = sum(v is None for v in columns["generating_term"])
assert nulls == 700, nulls  # the capped strategy's rows
assert all(v is not None for v in columns["control_term"]) and any(v != 0 for v in columns["control_term"])
print(f"paths.parquet: {table.num_rows} rows read by pyarrow {__import__('pyarrow').__version__}, equal to paths.csv value for value")
PY
# With the control off, its column is null on every row (it was not accumulated).
"$sptlab" run "$work/scenario.toml" --backend cpu --quiet --per-path --control-variate none --out "$work/off"
"$venv/bin/python" - "$work/off/paths.parquet" <<'PY'
import sys
import pyarrow.parquet as pq
control = pq.read_table(sys.argv[1]).column("control_term").to_pylist()
assert len(control) == 2100 and all(v is None for v in control), control[:5]
print("paths.parquet with --control-variate none: control_term null on every row")
PY
