#!/bin/bash
# The golden outputs of a refactor: every example scenario run on the CPU (one in f64,
# one as 2 shards merged, one with --per-path-format csv --png), the examples, two
# calibrations and a --reproduce, with their stdout and stderr. Make them with the
# binary before the change and after it, then compare with compare.py: a refactor
# moves no byte but timings.
#   usage: make.sh BINARY OUTDIR     (about 3 minutes on 2 cores)
# SPTLAB_GOLDEN_FORMAT=csv writes the per-path files as CSV (compare.py --allow-new
# reads those; it cannot decode Parquet).
set -e
BIN=$(readlink -f "$1"); OUT="$2"; FORMAT=${SPTLAB_GOLDEN_FORMAT:-parquet}
REPO=$(cd "$(dirname "$0")/../.." && pwd); SC=$REPO/examples/scenarios
rm -rf "$OUT"; mkdir -p "$OUT"; cd "$OUT"
for f in $SC/*.toml; do
  name=$(basename $f .toml)
  "$BIN" run "$f" --backend cpu --out "$name" --per-path --per-path-format $FORMAT > "$name.stdout" 2> "$name.stderr"
done
"$BIN" run --backend cpu --out embedded --per-path --per-path-format $FORMAT > embedded.stdout 2> embedded.stderr
"$BIN" run $SC/default.toml --backend cpu --precision f64 --paths 2000 --out default_f64 --per-path --per-path-format $FORMAT > default_f64.stdout 2> default_f64.stderr
"$BIN" run $SC/atlas.toml --backend cpu --paths 3000 --out atlas_csv_png --per-path --per-path-format csv --png > atlas_csv_png.stdout 2> atlas_csv_png.stderr
"$BIN" run $SC/first_order.toml --backend cpu --paths 3001 --shard 0/2 --out shard1 > shard1.stdout 2> shard1.stderr
"$BIN" run $SC/first_order.toml --backend cpu --paths 3001 --shard 1/2 --out shard2 > shard2.stdout 2> shard2.stderr
"$BIN" merge shard1 shard2 --out merged --per-path --per-path-format $FORMAT > merged.stdout 2> merged.stderr
for e in default atlas first_order vsm gbm_factor_500 calibrated_sp500_20; do "$BIN" example $e > example_$e.toml; done
"$BIN" calibrate $REPO/examples/data/sp500_20_stocks_1990_2022.csv > calibrate_gbm.toml 2> calibrate_gbm.stderr
"$BIN" calibrate $REPO/examples/data/sp500_20_stocks_1990_2022.csv --window 5 --shrinkage 0.3 > calibrate_w5.toml 2> calibrate_w5.stderr
"$BIN" run $REPO/examples/scenarios/te_budget.toml --backend cpu --paths 100 --out repro > /dev/null 2>&1
"$BIN" run --reproduce repro/summary.json --backend cpu > reproduce.stdout 2> reproduce.stderr || true
