#!/usr/bin/env bash
# Submits a sharded sptlab run to Slurm: a job array of N shards and a merge job that
# starts when every shard has succeeded. Prints the two job ids.
#
#   examples/slurm/submit.sh SCENARIO OUT N [sptlab run options...]
#
# SPTLAB names the binary (default: sptlab on PATH); OUT must be on a file system
# that every node sees.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 SCENARIO OUT N [sptlab run options...]" >&2
  exit 2
fi
scenario=$(realpath "$1") out=$(realpath -m "$2") shards=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
array=$(sbatch --parsable --chdir="$out" --array=0-$((shards - 1)) "$here/shard.sbatch" "$scenario" "$out" "$shards" "$@")
merge=$(sbatch --parsable --chdir="$out" --dependency=afterok:"$array" "$here/merge.sbatch" "$out")
echo "$array $merge"
