#!/usr/bin/env bash
# The GPU measurement, in one run on a machine with one hardware GPU, no Rust toolchain
# and no network. Prepare it here with `bash benches/device.sh prepare` (builds the
# release binary and the engine test executable, fetches the Vulkan loader package and
# copies the JAX peer into .device/, about 25 MiB); carry .device/ to the machine and
# run `bash benches/device.sh run [OUT]` from the repository root there. It runs the
# GPU tests on the hardware adapter, `sptlab bench --backend gpu` beside the JAX peer
# at 2,000, 20,000 and 200,000 paths (and the per-path kernel at the same sizes, for
# the comparison), the scaling sweep's 1,000- and 2,000-stock points and the max_growth
# workload, and writes
# device.log and measurements.json (every measurement, keyed by run) into OUT (default $OUT, else ./device-out).
# Budget: about seven minutes on an NVIDIA H200.
set -uo pipefail
cd "$(dirname "$0")/.."
carry=.device

prepare() {
    set -e
    cargo build --release --locked
    # The engine tests' executable (the newest build of it).
    local tests
    tests=$(cargo test --release --locked --no-run --test engine --message-format=json 2>/dev/null \
        | grep -o '"executable":"[^"]*/deps/engine-[^"]*"' | cut -d'"' -f4 | tail -1)
    mkdir -p "$carry/bin" "$carry/gl" "$carry/peers"
    cp target/release/sptlab "$carry/bin/sptlab"
    cp "$tests" "$carry/bin/engine-tests"
    strip "$carry/bin/sptlab" "$carry/bin/engine-tests" 2>/dev/null || true
    cp benches/peers/jax_peer.py "$carry/peers/"
    # The bootstrap market's example and its data (the scenario names the data relatively).
    mkdir -p "$carry/data" "$carry/scenarios"
    cp examples/data/sp500_20_stocks_1990_2022.csv "$carry/data/"
    cp examples/scenarios/bootstrap_sp500_20.toml "$carry/scenarios/"
    if ! ls "$carry"/gl/libglvnd0_*.deb >/dev/null 2>&1; then
        local lists=/tmp/amd64-lists
        mkdir -p "$lists/partial"
        local o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
        apt-get $o update >/dev/null
        (cd "$carry/gl" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
    fi
    du -sh "$carry"
}

# The Vulkan loader and NVIDIA's driver manifest; false without a hardware adapter.
setup_device() {
    # The Vulkan loader and libglvnd (NVIDIA's Vulkan driver is libGLX_nvidia, which
    # needs libGLdispatch), where the machine lacks them.
    if ! ldconfig -p | grep -q 'libGLdispatch.so.0' || ! ldconfig -p | grep -q 'libvulkan.so.1'; then
        for f in "$carry"/gl/*.deb; do dpkg -x "$f" /; done
        ldconfig
    fi
    # NVIDIA's Vulkan driver manifest (the image keeps it under /usr/local/nvidia).
    local icd
    for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
        /etc/vulkan/icd.d/nvidia_icd.json $(find / -xdev -name 'nvidia_icd*.json' 2>/dev/null | head -3); do
        if [ -f "$icd" ]; then
            export VK_DRIVER_FILES="$icd"
            break
        fi
    done
    echo "Vulkan loader: $(ldconfig -p | grep -m1 libvulkan.so.1); driver manifest: ${VK_DRIVER_FILES:-none}"
    export XDG_RUNTIME_DIR=/tmp SPTLAB_REQUIRE_GPU=1 PYTHONUNBUFFERED=1
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv || true
    echo "== sptlab info"
    local info
    info=$("$carry/bin/sptlab" info)
    echo "$info"
    if ! grep -q 'GPU adapter: .*(Vulkan, DiscreteGpu' <<<"$info"; then
        echo "no hardware Vulkan adapter: the loader's view follows"
        ls -la /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1 | head -20
        VK_LOADER_DEBUG=error,warn,info "$carry/bin/sptlab" info 2>&1 | tail -30
        return 1
    fi
}

# What every mode starts with: the output folder ($2, else $OUT, else ./device-out) in
# `out`, everything printed also to `out`/$1.log, the device checked, `sptlab` set.
begin() {
    out="${2:-${OUT:-./device-out}}"
    mkdir -p "$out"
    exec > >(tee "$out/$1.log") 2>&1
    setup_device || return 1
    sptlab="$carry/bin/sptlab"
}

run() {
    local out sptlab json
    begin device "${1:-}" || return 1
    json=$(mktemp -d)
    echo "== GPU tests on the hardware adapter"
    timeout 240 "$carry/bin/engine-tests" gpu --test-threads 4 2>&1 | grep -v '^$' | tail -40
    echo "== standard workload: sptlab's GPU backend (block kernel) beside the JAX peer"
    for paths in 2000 20000 200000; do
        timeout 150 "$sptlab" bench --backend gpu --paths "$paths" --repeat 3 --peers "$carry/peers" \
            --no-efficiency --json "$json/bench-$paths.json"
    done
    echo "== the control variate and antithetic pairs on the GPU: se^2 x seconds (20,000 paths)"
    timeout 150 "$sptlab" bench --backend gpu --paths 20000 --repeat 3 --json "$json/efficiency-20000.json"
    echo "== block shapes (SPTLAB_GPU_BLOCK=P,R: P paths per block, R stocks per invocation)"
    for paths in 2000 200000; do
        local shapes="8,4 8,8 16,8 32,8 32,16"
        [ "$paths" = 200000 ] && shapes="16,8 32,16"
        for shape in $shapes; do
            echo "-- $paths paths, block $shape"
            SPTLAB_GPU_BLOCK=$shape timeout 60 "$sptlab" bench --backend gpu --paths "$paths" --repeat 2 \
                --no-efficiency --json "$json/shape-$paths-${shape/,/x}.json" | grep '^| standard'
        done
    done
    echo "== standard workload: the per-path kernel at 2,000 paths, for comparison"
    SPTLAB_GPU_KERNEL=per-path timeout 60 "$sptlab" bench --backend gpu --paths 2000 --repeat 2 \
        --no-efficiency --json "$json/per-path-2000.json" | grep '^| standard'
    echo "== scaling: stocks up to 2,000 (1,000 paths, 252 steps)"
    timeout 150 "$sptlab" bench --workload scaling --backend gpu --paths 1000 --repeat 2 --json "$json/scaling.json"
    echo "== rank workload: Atlas markets of 100 and 1,000 stocks on the per-path kernel (its arrays in storage"
    echo "   buffers past 512 stocks; private arrays of 850 stocks lost the device)"
    timeout 120 "$sptlab" bench --workload rank --backend gpu --repeat 2 --no-efficiency --json "$json/rank.json"
    echo "== max_growth workload: 1,000 stocks, 10 factors, the optimiser in the factor form (no stock limit;"
    echo "   the eigenbasis solver stops at 700): solves per second and time per path"
    timeout 120 "$sptlab" bench --workload max_growth --backend gpu --repeat 2 --no-efficiency \
        --json "$json/max_growth.json"
    echo "== the bootstrap market (20 stocks, real days in blocks; per-path kernel): GPU 200,000 paths, CPU 20,000"
    for backend in gpu cpu; do
        local paths=200000
        [ "$backend" = cpu ] && paths=20000
        timeout 90 "$sptlab" run "$carry/scenarios/bootstrap_sp500_20.toml" --backend "$backend" --paths "$paths" \
            2>/dev/null | head -2
    done
    # One file of every measurement, keyed by run (the device tool returns few files).
    python3 - "$json" "$out/measurements.json" <<'PY'
import json, os, sys
folder, target = sys.argv[1], sys.argv[2]
runs = {}
for name in sorted(os.listdir(folder)):
    with open(os.path.join(folder, name)) as f:
        runs[name[:-len(".json")]] = json.load(f)
with open(target, "w") as f:
    json.dump(runs, f, indent=1)
PY
    echo "== done"
}

# Where the block kernel's time goes: the standard workload at 20,000 paths with one
# stage left out at a time (SPTLAB_GPU_OMIT; the results are then wrong, the time is
# what counts), and the SM clock sampled during a 200,000-path run. About two minutes.
stages() {
    local out sptlab
    begin stages "${1:-}" || return 1
    for omit in none normals correlation strategies normals,correlation normals,correlation,strategies; do
        echo "-- omitted: $omit"
        SPTLAB_GPU_OMIT=$omit timeout 60 "$sptlab" bench --backend gpu --paths 20000 --repeat 3 --no-efficiency | grep '^| standard'
    done
    echo "-- SM clock (MHz), GPU utilisation and power, every 250 ms during a 200,000-path run"
    nvidia-smi --query-gpu=clocks.sm,utilization.gpu,power.draw --format=csv,noheader -lms 250 > "$out/clocks.log" &
    local sampler=$!
    timeout 90 "$sptlab" bench --backend gpu --paths 200000 --repeat 1 --no-efficiency | grep '^| standard'
    kill "$sampler"
    sort "$out/clocks.log" | uniq -c | sort -rn | head -12
}

# The standard workload beside the JAX peer and a few block shapes, without the tests
# (a short second run after a change to the host side). About two and a half minutes.
measure() {
    local out sptlab
    begin measure "${1:-}" || return 1
    for paths in 2000 20000 200000; do
        timeout 100 "$sptlab" bench --backend gpu --paths "$paths" --repeat 2 --peers "$carry/peers" --no-efficiency | grep '^| standard'
    done
    for shape in 8,4 16,8 32,8 32,16; do
        echo "-- 200000 paths, block $shape"
        SPTLAB_GPU_BLOCK=$shape timeout 40 "$sptlab" bench --backend gpu --paths 200000 --repeat 1 --no-efficiency | grep '^| standard'
    done
    for shape in 8,4 8,8 16,4; do
        echo "-- 2000 paths, block $shape"
        SPTLAB_GPU_BLOCK=$shape timeout 30 "$sptlab" bench --backend gpu --paths 2000 --repeat 3 --no-efficiency | grep '^| standard'
    done
}

case "${1:-}" in
    measure) measure "${2:-}" ;;
    prepare) prepare ;;
    run) run "${2:-}" ;;
    stages) stages "${2:-}" ;;
    *) echo "usage: bash benches/device.sh prepare | run [OUT]" >&2; exit 2 ;;
esac
