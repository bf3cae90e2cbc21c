#!/usr/bin/env bash
# The Slurm example end to end, on a one-node cluster on this machine: installs
# Debian's slurm-wlm and munge when missing, starts munged, slurmctld and slurmd on
# loopback, submits examples/slurm/submit.sh with 4 shards and the dependent merge,
# waits, and checks that the merged summary equals an unsharded run's number for
# number. Needs root (CI runs it). Usage: tests/slurm/run.sh [path/to/sptlab]
set -euo pipefail
cd "$(dirname "$0")/../.."
sptlab=$(realpath "${1:-target/release/sptlab}")
work=$(mktemp -d /tmp/sptlab-slurm.XXXXXX)

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "== installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurm-wlm munge >/dev/null
fi

echo "== munge"
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0400 /etc/munge/munge.key
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
munge -n | unmunge >/dev/null

echo "== slurm (one node on loopback)"
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=sptlab-ci
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$memory State=UNKNOWN
PartitionName=ci Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
cleanup() {
  scontrol shutdown >/dev/null 2>&1 || true
  pkill -x slurmd >/dev/null 2>&1 || true
}
trap cleanup EXIT
pgrep -x slurmctld >/dev/null || slurmctld -i
pgrep -x slurmd >/dev/null || slurmd -N localhost
for _ in $(seq 60); do
  sinfo -h -o %T 2>/dev/null | grep -qE "^(idle|mixed|allocated)" && break
  sleep 1
done
sinfo

echo "== a run of 4 shards and a merge, through the scheduler"
cat > "$work/scenario.toml" <<'TOML'
name = "slurm-ci"
seed = 11
paths = 6000
years = 1.0
[market]
n = 12
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
name = "diversity-0.5"
weighting = "diversity"
p = 0.5
TOML
read -r array merge < <(SPTLAB="$sptlab" examples/slurm/submit.sh "$work/scenario.toml" "$work/run" 4 --backend cpu)
echo "array job $array, merge job $merge"
for _ in $(seq 300); do
  [ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ] && break
  sleep 1
done
if [ ! -s "$work/run/merged/summary.json" ]; then
  echo "the merge job wrote no summary; logs:" >&2
  tail -n 20 "$work"/run/*.log /var/log/slurm/*.log >&2 || true
  exit 1
fi

echo "== the unsharded run, and the comparison"
"$sptlab" run "$work/scenario.toml" --backend cpu --quiet --out "$work/whole"
python3 - "$work/whole/summary.json" "$work/run/merged/summary.json" <<'PY'
import json, sys
whole, merged = (json.load(open(path)) for path in sys.argv[1:3])
for summary in (whole, merged):
    summary.pop("run")
if whole != merged:
    sys.exit("the merged summary differs from the unsharded run's")
print("merged summary of 4 Slurm shards == unsharded run (every number)")
PY
