//! The GPU backend against the CPU one: Philox words exactly, normals and per-path
//! results within stated tolerances. Lavapipe is enough; without any adapter these
//! tests skip with a notice, and fail when SPTLAB_REQUIRE_GPU=1 (as in CI).

use sptlab::engine::gpu::max_growth::{solver, Solver};
use sptlab::engine::gpu::philox_check::philox_words_gpu;
use sptlab::engine::gpu::{GpuBackend, GpuContext, KernelChoice};
use sptlab::engine::{Backend, CpuBackend, Precision};
use sptlab::numeric::philox::{normals4, philox4x32_10, seed_key};

use crate::common::{plan, simulate, simulate_cpu, MIXED};

#[test]
fn wgsl_philox_returns_the_same_words_as_rust_with_either_multiply() {
    let Some(context) = GpuContext::for_tests() else { return };
    eprintln!("Philox multiply on this adapter: {:?}", context.philox_multiply());
    philox_words_match(&context);
    // The 16-bit fall-back, on the same adapter.
    let halves = GpuContext::for_tests().expect("the adapter was there a moment ago").without_int64();
    assert_eq!(halves.philox_multiply(), sptlab::engine::gpu::shaders::PhiloxMultiply::Halves);
    philox_words_match(&halves);
}

fn philox_words_match(context: &GpuContext) {
    // The known answers of docs/reproducibility.md, each under its own key.
    let known = [
        ([0u32; 4], [0u32; 2]),
        ([u32::MAX; 4], [u32::MAX; 2]),
        ([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
    ];
    for (counter, key) in known {
        let (words, _) = philox_words_gpu(context, key, &[counter]).unwrap();
        assert_eq!(words[0], philox4x32_10(counter, key));
    }
    // 131,072 counters: the simulation's layout, and scrambled values near u32::MAX.
    let key = seed_key(0xDEAD_BEEF_0123_4567);
    let mut counters: Vec<[u32; 4]> = (0..65_536u32).map(|i| [i % 1000, i / 1000, i % 7, 0]).collect();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..65_536 {
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 16) as u32 | if state & 1 == 1 { 0xFFFF_0000 } else { 0 }
        };
        counters.push([next(), next(), next(), next()]);
    }
    let (words, normals) = philox_words_gpu(context, key, &counters).unwrap();
    for (index, counter) in counters.iter().enumerate() {
        assert_eq!(words[index], philox4x32_10(*counter, key), "counter {counter:08x?}");
    }
    // Normals: the same uniforms (exact), then f32 log/sin/cos, which differ by driver;
    // 2e-5 absolute covers a few ulp of f32 at |z| < 6.
    let seed = 0xDEAD_BEEF_0123_4567u64;
    for (index, counter) in counters.iter().take(65_536).enumerate() {
        let expected = normals4(seed, counter[0], counter[1], counter[2]);
        for k in 0..4 {
            let error = (normals[index][k] as f64 - expected[k]).abs();
            assert!(error < 2e-5, "counter {counter:?}: {} vs {}", normals[index][k], expected[k]);
        }
    }
}

#[test]
fn gpu_paths_agree_with_cpu_paths_over_ten_years() {
    let Some(context) = GpuContext::for_tests() else { return };
    let plan = plan(MIXED);
    let mut gpu = GpuBackend::new(context);
    let on_gpu = simulate(&plan, &mut gpu);
    let on_cpu = simulate_cpu(&plan, Precision::F64);
    // f32 over 2520 steps: per-step rounding near 1e-7 on terms of 1e-3 keeps the
    // relative log return within 2e-3 (measured: about 1e-5).
    assert_paths_agree("gbm", &on_gpu, &on_cpu, 2e-3);
    // The time grid: each mean at each point within 1e-3 of the CPU's (f32 over ten
    // years; measured at most 2.7e-4, in the drift term). A point recorded at the wrong
    // month would be off by a month of drift (equal weight: about 3e-3 here).
    let largest = assert_grids_agree(&on_gpu, &on_cpu, 1e-3);
    eprintln!("time grid, GPU vs CPU: largest gap of a mean per quantity {largest:?}");
    let cpu_grid = on_cpu.grid.as_ref().unwrap();
    let equal = on_cpu.strategy_names.iter().position(|n| n == "equal").unwrap();
    let monthly_drift = cpu_grid.mean(equal, 60, 2) - cpu_grid.mean(equal, 59, 2);
    assert!(monthly_drift > 1e-3, "the control: a month of drift ({monthly_drift}) exceeds the tolerance");
}

/// The time grids of a GPU and a CPU run: same points and paths, and every mean at
/// every point within `tolerance`; returns the largest gap per quantity.
fn assert_grids_agree(
    on_gpu: &sptlab::Results,
    on_cpu: &sptlab::Results,
    tolerance: f64,
) -> [f64; sptlab::engine::time_grid::QUANTITIES] {
    let (gpu_grid, cpu_grid) = (on_gpu.grid.as_ref().unwrap(), on_cpu.grid.as_ref().unwrap());
    assert_eq!((gpu_grid.spec, gpu_grid.paths), (cpu_grid.spec, cpu_grid.paths));
    let mut largest = [0.0f64; sptlab::engine::time_grid::QUANTITIES];
    for s in 0..on_cpu.strategy_names.len() {
        for point in 0..cpu_grid.spec.points {
            for (quantity, largest) in largest.iter_mut().enumerate() {
                let gap = (gpu_grid.mean(s, point, quantity) - cpu_grid.mean(s, point, quantity)).abs();
                *largest = largest.max(gap);
                assert!(gap < tolerance, "strategy {s}, point {point}, quantity {quantity}: gap {gap:e}");
            }
        }
    }
    largest
}

/// Per path, GPU (f32) against CPU (f64): relative and market log returns within
/// `tolerance`; the GPU's master-equation residual, turnover and tracking error within 1e-3.
fn assert_paths_agree(model: &str, on_gpu: &sptlab::Results, on_cpu: &sptlab::Results, tolerance: f64) -> f64 {
    let mut largest = 0.0f64;
    for (s, name) in on_cpu.strategy_names.iter().enumerate() {
        for (path, (g, c)) in on_gpu.per_path[s].iter().zip(&on_cpu.per_path[s]).enumerate() {
            let gap = (g.relative_log_return - c.relative_log_return).abs();
            largest = largest.max(gap);
            assert!(
                gap < tolerance,
                "{model}, {name}, path {path}: GPU {} vs CPU {}",
                g.relative_log_return,
                c.relative_log_return
            );
            let residual = g.master_equation_residual();
            assert!(residual.abs() < 1e-3, "{model}, {name}, path {path}: GPU residual {residual:e}");
            assert!((g.turnover - c.turnover).abs() < 1e-3 * (1.0 + c.turnover), "{model}, {name}: turnover");
            assert!((g.tracking_error - c.tracking_error).abs() < 1e-3, "{model}, {name}: tracking error");
            // Risk beside return (docs/statistics.md): volatility and beta are spreads of
            // one-step returns, as the tracking error; a size tilt is a weighted mean log weight.
            assert!((g.volatility - c.volatility).abs() < 1e-3, "{model}, {name}, path {path}: volatility");
            assert!((g.beta - c.beta).abs() < 1e-3, "{model}, {name}, path {path}: beta {} vs {}", g.beta, c.beta);
            let tilt_gap = (g.size_tilt - c.size_tilt).abs();
            assert!(tilt_gap < 1e-3 * (1.0 + c.size_tilt.abs()), "{model}, {name}, path {path}: size tilt");
            let drift_gap = (g.size_tilt_drift - c.size_tilt_drift).abs();
            assert!(
                drift_gap < 1e-3 || (g.size_tilt_drift.is_nan() && c.size_tilt_drift.is_nan()),
                "{model}, {name}, path {path}: size tilt drift {} vs {}",
                g.size_tilt_drift,
                c.size_tilt_drift
            );
        }
    }
    for (g, c) in on_gpu.benchmark_volatility.iter().zip(&on_cpu.benchmark_volatility) {
        assert!((g - c).abs() < 1e-4, "{model}: benchmark volatility GPU {g} vs CPU {c}");
    }
    for (g, c) in on_gpu.market_log_return.iter().zip(&on_cpu.market_log_return) {
        assert!((g - c).abs() < tolerance, "{model}: market log return GPU {g} vs CPU {c}");
    }
    // The controls (docs/control-variates.md): the same noise terms against the same weights.
    for (s, name) in on_cpu.strategy_names.iter().enumerate() {
        for (path, (g, c)) in on_gpu.per_path[s].iter().zip(&on_cpu.per_path[s]).enumerate() {
            let gap = (g.control_term - c.control_term).abs();
            assert!(
                gap < tolerance,
                "{model}, {name}, path {path}: control GPU {} vs CPU {}",
                g.control_term,
                c.control_term
            );
        }
    }
    for (g, c) in on_gpu.market_control.iter().zip(&on_cpu.market_control) {
        assert!((g - c).abs() < tolerance, "{model}: market control GPU {g} vs CPU {c}");
    }
    largest
}

#[test]
#[ignore = "long on a software adapter (3.5 min on llvmpipe's OpenGL, 2 cores): cargo test --release -- --ignored"]
fn the_default_scenario_needs_64_times_fewer_paths_with_the_control_on_the_gpu() {
    // As the CPU test of that name, on the block kernel (the per-path kernel of 100
    // stocks takes minutes to compile on llvmpipe): 64 paths of the default scenario,
    // whose ratios (385 to 411 for equal and diversity on lavapipe at 256 paths) scatter
    // by about 18 % at 64 paths.
    let Some(context) = GpuContext::for_tests() else { return };
    let mut gpu = GpuBackend::new(context).with_kernel(KernelChoice::Block);
    let ratios = crate::control::default_scenario_variance_ratios(64, &mut gpu);
    for (name, ratio) in &ratios {
        if name.starts_with("equal") || name.starts_with("diversity") {
            assert!(*ratio >= 64.0, "{name}: variance ratio {ratio} on the GPU");
        }
    }
}

#[test]
fn antithetic_pairs_and_the_controls_on_the_gpu_match_the_cpu_on_both_kernels() {
    let Some(context) = GpuContext::for_tests() else { return };
    let mut gpu = GpuBackend::new(context);
    let gbm = plan(
        "seed = 3\npaths = 40\nyears = 0.5\nantithetic = true\n[market]\nn = 10\nvol = { from = 0.15, to = 0.4 }\n\
         correlation = 0.3\n[[strategies]]\nname = \"equal\"\nweighting = \"equal\"\nrebalance_every = 5\n\
         [[strategies]]\nname = \"diversity\"\nweighting = \"diversity\"\np = 0.5",
    );
    let atlas = plan(
        "seed = 3\npaths = 40\nyears = 0.5\nantithetic = true\n[market]\nn = 10\nmodel = \"atlas\"\natlas_g = 0.1\n\
         vol = 0.3\ninitial_weights = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n[[strategies]]\nname = \"top-3\"\n\
         weighting = \"top_k\"\nk = 3\n[[strategies]]\nname = \"equal\"\nweighting = \"equal\"",
    );
    for (model, plan, kernels) in [
        ("gbm", &gbm, &[KernelChoice::PerPath, KernelChoice::Block][..]),
        ("atlas", &atlas, &[KernelChoice::PerPath][..]),
    ] {
        if gpu.is_gl() && model == "atlas" {
            // llvmpipe under OpenGL cannot rank stocks (GpuBackend::check_fits): refused.
            let reason = gpu.check_fits(plan).unwrap_err().to_string();
            assert!(reason.contains("OpenGL"), "{model}: {reason}");
            continue;
        }
        let on_cpu = simulate_cpu(plan, Precision::F64);
        // One step: path 2k + 1 drew path 2k's normals negated from the same state, so
        // its controls are exactly the negated ones.
        let mut one_step = plan.clone();
        one_step.steps = 1;
        for &kernel in kernels {
            gpu = gpu.with_kernel(kernel);
            let on_gpu = simulate(plan, &mut gpu);
            assert_paths_agree(&format!("{model} antithetic, {kernel:?}"), &on_gpu, &on_cpu, 5e-4);
            let first = simulate(&one_step, &mut gpu);
            for pair in first.market_control.chunks(2) {
                assert!(pair[0] == -pair[1] && pair[0] != 0.0, "{model}, {kernel:?}: {pair:?}");
            }
        }
    }
}

#[test]
fn a_run_too_large_for_the_adapter_is_refused_before_it_starts() {
    use sptlab::engine::Backend;
    let Some(context) = GpuContext::for_tests() else { return };
    let software = context.is_software();
    let gpu = GpuBackend::new(context).with_kernel(KernelChoice::PerPath);
    let small = plan(MIXED);
    assert!(gpu.check_fits(&small).is_ok());
    // The per-path kernel: 1,000 stocks and six strategies: a per-step triangular
    // product of 31,375 vec4 iterations plus 30,000 for the strategies, beyond what
    // llvmpipe runs correctly in one dispatch; 1,500 stocks likewise. (Compile time no
    // longer limits it: past 512 stocks its per-path arrays live in storage buffers.)
    let without_tilted = |n: &str| {
        plan(&MIXED.replace("n = 30", n).replace(
            &MIXED[MIXED.find("[[strategies]]\n    name = \"tilted\"").unwrap()
                ..MIXED.find("[[strategies]]\n    name = \"cap-weighted\"").unwrap()],
            "",
        ))
    };
    for n in ["n = 1000", "n = 1500"] {
        match gpu.check_fits(&without_tilted(n)) {
            Err(reason) => {
                let reason = reason.to_string();
                assert!(software, "hardware runs the per-path kernel at {n}: {reason}");
                assert!(reason.starts_with("market.n") && reason.contains("loop iterations per step"), "{reason}");
            }
            Ok(()) => assert!(!software, "the software adapter cannot run {n} in one dispatch correctly"),
        }
    }
    // With a max_growth strategy (whose solver keeps private arrays) the per-path
    // kernel keeps its known limits: 700 stocks on hardware (an H200 lost the device
    // building it for 850), 1,000 on software adapters (compile time).
    let with_max_growth = |n: &str| {
        let mut scenario = without_tilted(n).scenario;
        let text = "[market]\nn = 2\nvol = 0.2\n[[strategies]]\nname = \"max-growth\"\nweighting = \"max_growth\"\n\
                    te_budget = 0.03\nrebalance_every = 21\n";
        let max_growth = sptlab::scenario::Scenario::from_toml(text).unwrap().strategies.remove(0);
        scenario.strategies.push(max_growth);
        scenario.validate().unwrap()
    };
    let reason = gpu.check_fits(&with_max_growth("n = 1500")).unwrap_err().to_string();
    let fragment = if software { "reasonable time" } else { "700" };
    assert!(reason.starts_with("market.n") && reason.contains(fragment), "{reason}");
    // The block kernel (the default for them) has no stock limit on hardware: nothing
    // on chip grows with n. A software adapter runs its Cholesky step of 1,000 stocks
    // and more too slowly (R n / 2 multiply-adds a step from storage), so it refuses them.
    let gpu = GpuBackend::new(GpuContext::for_tests().unwrap()).with_kernel(KernelChoice::Auto);
    for n in ["n = 1000", "n = 1500"] {
        let plan = without_tilted(n);
        assert!(gpu.block_shape(&plan).is_some(), "{n}");
        match gpu.check_fits(&plan) {
            Ok(()) => assert!(!software, "{n}: the software adapter should refuse it"),
            Err(reason) => {
                let reason = reason.to_string();
                assert!(software && reason.contains("reasonable time") && reason.starts_with("market.n"), "{reason}");
            }
        }
    }
}

/// Scenarios the block kernel runs: every market model it has and every weighting
/// (rebalancing intervals and costs included), 100 paths: blocks of 8 and 16 with a
/// partial last block.
fn block_scenarios() -> Vec<(&'static str, String)> {
    let strategies = &MIXED[MIXED.find("[[strategies]]").unwrap()..];
    let gbm = MIXED.replace("paths = 48", "paths = 100").replace("years = 10.0", "years = 2.0");
    let market_at = gbm.find("[market]").unwrap();
    let header = &gbm[..market_at];
    let with_market = |market: &str| format!("{header}[market]\n{market}\n{strategies}");
    let loadings: Vec<String> = (0..30)
        .map(|i| format!("[{:.3}, {:.3}, {:.3}]", 0.1 + 0.005 * i as f64, 0.05, -0.02 * (i % 3) as f64))
        .collect();
    let loadings = loadings.join(", ");
    vec![
        ("gbm", gbm.clone()),
        (
            "factor",
            with_market(&format!(
                "n = 30\nzipf = 1.0\ngrowth = 0.05\nidiosyncratic_vol = 0.2\nfactor_loadings = [{}]",
                loadings
            )),
        ),
        ("vsm", with_market("n = 30\nmodel = \"vsm\"\nalpha = 1.0\nzipf = 1.0")),
    ]
}

#[test]
#[ignore = "long on a software adapter (over 5 min on llvmpipe's OpenGL, 2 cores): cargo test --release -- --ignored"]
fn the_block_kernel_agrees_with_the_cpu_per_path_in_every_model_it_runs() {
    let Some(context) = GpuContext::for_tests() else { return };
    let mut gpu = GpuBackend::new(context).with_kernel(KernelChoice::Block);
    for (model, text) in block_scenarios() {
        let plan = plan(&text);
        let shape = gpu.block_shape(&plan).unwrap_or_else(|| panic!("{model}: the block kernel runs it"));
        assert!(!plan.paths.is_multiple_of(shape.paths as u64), "{model}: a partial last block ({shape:?})");
        let on_gpu = simulate(&plan, &mut gpu);
        let on_cpu = simulate_cpu(&plan, Precision::F64);
        // f32 against f64 over 504 steps, as the per-path kernel (measured on lavapipe:
        // see the note printed below).
        let largest = assert_paths_agree(model, &on_gpu, &on_cpu, 5e-4);
        let grid = assert_grids_agree(&on_gpu, &on_cpu, 1e-3);
        eprintln!("block kernel {model} {shape:?}: largest gap {largest:e}, grid {grid:?}");
    }
}

#[test]
#[ignore = "long on a software adapter (over 10 min on llvmpipe's OpenGL, 2 cores): cargo test --release -- --ignored"]
fn the_block_kernel_in_storage_mode_agrees_with_the_cpu() {
    let Some(context) = GpuContext::for_tests() else { return };
    let mut gpu = GpuBackend::new(context).with_kernel(KernelChoice::Block);
    // 300 stocks and seven strategies: more holdings than registers hold, so every
    // invocation's state lives in the state buffer and the normals in the scratch.
    let text = MIXED
        .replace("paths = 48", "paths = 20")
        .replace("years = 10.0", "years = 0.25")
        .replace("n = 30", "n = 300")
        .replace(
            &MIXED[MIXED.find("[[strategies]]\n    name = \"tilted\"").unwrap()
                ..MIXED.find("[[strategies]]\n    name = \"cap-weighted\"").unwrap()],
            "[[strategies]]\nname = \"diversity-0.8\"\nweighting = \"diversity\"\np = 0.8\n",
        );
    let plan = plan(&text);
    let shape = gpu.block_shape(&plan).expect("the block kernel runs it");
    assert!(!shape.registers, "{shape:?}");
    let on_gpu = simulate(&plan, &mut gpu);
    let on_cpu = simulate_cpu(&plan, Precision::F64);
    let largest = assert_paths_agree("gbm-300", &on_gpu, &on_cpu, 5e-4);
    eprintln!("block kernel, storage mode {shape:?}: largest gap {largest:e}");
}

#[test]
#[ignore = "long on a software adapter (over 10 min on llvmpipe's OpenGL, 2 cores): cargo test --release -- --ignored"]
fn the_block_kernels_correlated_steps_equal_the_cpu_f32_twin_bit_for_bit() {
    use sptlab::market::gbm::correlate_in_place;
    use sptlab::market::MarketKernel;
    use sptlab::numeric::lanes::Lanes;
    let Some(context) = GpuContext::for_tests() else { return };
    // 37 stocks (rows and Philox blocks partly filled) and 100 (the standard market);
    // 21 and 40 paths (partial blocks).
    for (n, paths) in [(37usize, 21usize), (100, 40)] {
        let text = MIXED.replace("n = 30", &format!("n = {n}")).replace(
            &MIXED[MIXED.find("[[strategies]]\n    name = \"tilted\"").unwrap()
                ..MIXED.find("[[strategies]]\n    name = \"cap-weighted\"").unwrap()],
            "",
        );
        let plan = plan(&text);
        let normals: Vec<f32> = (0..paths * n.div_ceil(4))
            .flat_map(|k| normals4(0x5EED, k as u32, 3, 1).map(|z| z as f32))
            .take(paths * n)
            .collect();
        let on_gpu = sptlab::engine::gpu::stage_check::one_step_from_normals(&context, &plan, &normals).unwrap();
        let MarketKernel::Cholesky(kernel) = plan.market.kernel::<f32>(plan.dt()) else { panic!("a Cholesky market") };
        let initial = plan.market.initial_weights();
        // The CPU twin's chains with fused multiply-adds (NVIDIA's FFMA: an H200 matched
        // every value) and with a multiply then an add (lavapipe, whose WGSL fma is not
        // fused: the 2 of 777 and 8 of 4,000 values that differ from the fused chain
        // equal this one): the GPU must equal one of them bit for bit, everywhere.
        let mut differing = [0usize; 2];
        for path in 0..paths {
            let normals_of = || (0..n).map(|i| Lanes([normals[path * n + i]])).collect::<Vec<Lanes<f32, 1>>>();
            let (mut fused, mut unfused) = (normals_of(), normals_of());
            let mut noise = normals_of();
            correlate_in_place::<f32, 1, true>(&kernel, &mut fused, &mut noise);
            correlate_in_place::<f32, 1, false>(&kernel, &mut unfused, &mut noise);
            for stock in 0..n {
                let got = on_gpu[path * n + stock].to_bits();
                for (count, steps) in differing.iter_mut().zip([&fused, &unfused]) {
                    if got != (initial[stock].ln() as f32 + steps[stock].0[0]).to_bits() {
                        *count += 1;
                    }
                }
            }
        }
        eprintln!(
            "{n} stocks: values differing from the fused chain {}, from the unfused {}",
            differing[0], differing[1]
        );
        assert!(differing.contains(&0), "{n} stocks: correlated steps differing from the CPU's: {differing:?}");
    }
}

#[test]
fn a_1500_stock_factor_market_runs_on_the_gpu_as_on_the_cpu() {
    let Some(context) = GpuContext::for_tests() else { return };
    let mut gpu = GpuBackend::new(context);
    let loadings: Vec<String> = (0..1500)
        .map(|i| format!("[{:.3}, {:.3}, {:.3}, {:.3}]", 0.1 + 0.0001 * i as f64, 0.05, -0.03, 0.02 * (i % 5) as f64))
        .collect();
    let text = format!(
        "name = \"factor-1500\"\nseed = 5\npaths = 12\nyears = 0.05\n[market]\nn = 1500\nzipf = 1.0\n\
         growth = 0.05\nidiosyncratic_vol = 0.25\nfactor_loadings = [{}]\n\
         [[strategies]]\nname = \"equal\"\nweighting = \"equal\"\n\
         [[strategies]]\nname = \"diversity-0.5\"\nweighting = \"diversity\"\np = 0.5\nrebalance_every = 5\n",
        loadings.join(", ")
    );
    let plan = plan(&text);
    gpu.check_fits(&plan).unwrap();
    assert!(gpu.block_shape(&plan).is_some(), "the block kernel runs 1,500 stocks");
    let on_gpu = simulate(&plan, &mut gpu);
    let on_cpu = simulate_cpu(&plan, Precision::F64);
    let largest = assert_paths_agree("factor-1500", &on_gpu, &on_cpu, 5e-4);
    eprintln!("1,500-stock factor market: largest gap {largest:e}");
}

#[test]
fn gpu_results_do_not_depend_on_the_batch_size() {
    let Some(context) = GpuContext::for_tests() else { return };
    // 150 paths: one batch, or batches of 64 (the last one partial).
    let text = MIXED.replace("paths = 48", "paths = 150").replace("years = 10.0", "years = 0.5");
    let plan = plan(&text);
    let mut gpu = GpuBackend::new(context);
    let whole = simulate(&plan, &mut gpu);
    let mut gpu =
        GpuBackend::new(GpuContext::for_tests().expect("the adapter was there a moment ago")).with_batch_limit(64);
    let batched = simulate(&plan, &mut gpu);
    assert_eq!(whole.market_log_return, batched.market_log_return);
    assert_eq!(whole.per_path, batched.per_path);
    // And the batches hold the right paths: compare with the CPU path by path.
    let on_cpu = simulate_cpu(&plan, Precision::F64);
    for (g, c) in batched.market_log_return.iter().zip(&on_cpu.market_log_return) {
        assert!((g - c).abs() < 1e-4, "GPU {g} vs CPU {c}");
    }
}

#[test]
fn batches_in_flight_finish_in_order_with_their_own_paths_and_progress() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let Some(_) = GpuContext::for_tests() else { return };
    let plan = plan(&MIXED.replace("paths = 48", "paths = 200").replace("years = 10.0", "years = 0.1"));
    for kernel in [KernelChoice::PerPath, KernelChoice::Block] {
        let fresh = || GpuBackend::new(GpuContext::for_tests().expect("the adapter was there a moment ago"));
        let mut gpu = fresh().with_kernel(kernel);
        // Two batches queued before either is read (what the driver does), then read in
        // order: each equals the same paths simulated alone on a fresh backend, and each
        // reports exactly its paths as progress.
        let reported = AtomicU64::new(0);
        let progress = |paths: u64| {
            reported.fetch_add(paths, Ordering::Relaxed);
        };
        let first = gpu.start_batch(&plan, 0..128, &progress).unwrap();
        let second = gpu.start_batch(&plan, 128..200, &progress).unwrap();
        let first = gpu.finish_batch(&plan, first, &progress).unwrap();
        assert_eq!(reported.swap(0, Ordering::Relaxed), 128, "{kernel:?}");
        let second = gpu.finish_batch(&plan, second, &progress).unwrap();
        assert_eq!(reported.load(Ordering::Relaxed), 72, "{kernel:?}");
        let alone = |paths| fresh().with_kernel(kernel).simulate(&plan, paths, &|_| {}).unwrap();
        for (batch, paths) in [(&first, 0..128), (&second, 128..200)] {
            let expected = alone(paths);
            assert_eq!(batch.first_path, expected.first_path);
            assert_eq!(batch.log_caps, expected.log_caps, "{kernel:?}");
            assert_eq!(batch.strategy_slots, expected.strategy_slots, "{kernel:?}");
        }
        // A batch left in flight by a run that stopped (an error, a non-finite path) is
        // dropped: the next run's batch is its own.
        let _abandoned = gpu.start_batch(&plan, 0..64, &|_| {}).unwrap();
        let next = gpu.start_batch(&plan, 128..200, &|_| {}).unwrap();
        let next = gpu.finish_batch(&plan, next, &|_| {}).unwrap();
        assert_eq!(next.strategy_slots, second.strategy_slots, "{kernel:?}");
    }
}

#[test]
fn gpu_paths_agree_with_cpu_paths_in_every_model() {
    let Some(context) = GpuContext::for_tests() else { return };
    let mut gpu = GpuBackend::new(context);
    for (model, text) in crate::models::model_scenarios() {
        let mut plan = plan(&text);
        if gpu.is_gl() {
            // llvmpipe under OpenGL cannot rank stocks (see GpuBackend::check_fits):
            // rank models and top-k weights are refused, the rest runs.
            let reason = gpu.check_fits(&plan).unwrap_err().to_string();
            assert!(reason.contains("OpenGL"), "{model}: {reason}");
            if matches!(plan.market, sptlab::market::Market::Rank(_)) {
                continue;
            }
            let top_k = text.find("name = \"top-4\"").expect("the models' strategies include top-k");
            let without_top_k = &text[..text[..top_k].rfind("[[strategies]]").unwrap()];
            plan = crate::common::plan(without_top_k);
            gpu.check_fits(&plan).unwrap();
        }
        let on_gpu = simulate(&plan, &mut gpu);
        let on_cpu = simulate_cpu(&plan, Precision::F64);
        // f32 against f64 over 504 steps: measured at most 3.1e-5 (vsm, whose
        // 1/sqrt(mu) amplifies rounding most). Rank models: f32 and f64 may order
        // two nearly equal caps differently for a step, which moves a path by about
        // g dt = 2e-4, so 5e-4 leaves room for that and no more.
        let largest = assert_paths_agree(model, &on_gpu, &on_cpu, 5e-4);
        eprintln!("{model}: largest GPU-CPU gap in relative log return {largest:e}");
    }
}

#[test]
fn a_thousand_stock_rank_market_runs_on_the_gpu_as_on_the_cpu() {
    // The rank-1000 benchmark market (Atlas, bottom gaps far narrower than a day's
    // move, so the insertion sort shifts about 3.5 times per stock per step) for 40
    // steps: every dispatch must complete within llvmpipe's loop cap, and the paths
    // must match the CPU's.
    let Some(context) = GpuContext::for_tests() else { return };
    let mut backend = GpuBackend::new(context);
    let mut scenario = sptlab::scenario::rank_workload(1000, 64);
    scenario.years = 40.0 / 252.0;
    let plan = scenario.validate().unwrap();
    if backend.is_gl() {
        // llvmpipe under OpenGL cannot rank stocks: refused up front, with the reason.
        let reason = backend.check_fits(&plan).unwrap_err().to_string();
        assert!(reason.contains("market.model: the rank-based models") && reason.contains("OpenGL"), "{reason}");
        return;
    }
    // Rank models run on the per-path kernel, with its per-path arrays in storage
    // buffers at this size (private arrays of 850 stocks lost an H200's device).
    let on_gpu = simulate(&plan, &mut backend);
    let on_cpu = simulate_cpu(&plan, Precision::F64);
    assert_paths_agree("rank-1000", &on_gpu, &on_cpu, 1e-4);
}

#[test]
fn the_per_path_kernel_with_its_arrays_in_storage_agrees_with_the_cpu() {
    // 600 stocks: past 512 the per-path kernel keeps a path's per-stock arrays (z, log
    // caps, weights, targets, rank orders, top-k ranks) in storage buffers, with no
    // stock limit. Every market model it runs for such plans (rank models, and VSM and
    // factor GBM when the per-path kernel is chosen), every weighting but max_growth
    // (which keeps private arrays and its limits), a partial workgroup of 40 paths.
    let Some(context) = GpuContext::for_tests() else { return };
    let mut gpu = GpuBackend::new(context).with_kernel(KernelChoice::PerPath);
    let n = 600;
    let list = |values: Vec<String>| format!("[{}]", values.join(", "));
    // Symmetric about zero, so they sum to zero (the model's stability condition).
    let rank_growth = list((0..n).map(|k| format!("{:.5}", 0.0001 * (k as f64 - (n - 1) as f64 / 2.0))).collect());
    let loadings = list(
        (0..n).map(|i| format!("[{:.3}, {:.3}]", 0.1 + 0.0001 * i as f64, 0.05 - 0.01 * (i % 5) as f64)).collect(),
    );
    // The models' strategies with a cap and a k for 600 stocks.
    let strategies = crate::models::MODEL_STRATEGIES
        .replace("capped-0.15", "capped-0.05")
        .replace("cap = 0.15", "cap = 0.05")
        .replace("top-4", "top-50")
        .replace("k = 4\n", "k = 50\n");
    let markets = [
        ("atlas", "model = \"atlas\"\ngrowth = 0.05\natlas_g = 0.05\nvol = 0.25".to_string()),
        (
            "first_order",
            format!("model = \"first_order\"\nrank_growth = {rank_growth}\nrank_vol = {{ from = 0.15, to = 0.4 }}"),
        ),
        ("vsm", "model = \"vsm\"\nalpha = 0.5".to_string()),
        ("gbm-factor", format!("growth = 0.05\nidiosyncratic_vol = 0.2\nfactor_loadings = {loadings}")),
    ];
    for (model, market) in markets {
        let text = format!("seed = 9\npaths = 40\nyears = 0.08\nsteps_per_year = 252\n[market]\nn = {n}\nzipf = 1.0\n{market}\n{strategies}");
        let plan = plan(&text);
        // llvmpipe's OpenGL driver cannot rank (refused up front): there, VSM and factor
        // GBM without top-k. VSM reshuffles its small stocks' ranks every step (vol
        // proportional to 1 / sqrt(weight)), so top-k's insertion sort needs about N^2 / 4
        // shifts a rebalance, more than llvmpipe's loop cap (a run stops with "completed
        // only 16 of 20 steps", private arrays or not): without top-k there too.
        if gpu.is_gl() && matches!(model, "atlas" | "first_order") {
            continue;
        }
        if gpu.is_gl() || (model == "vsm" && gpu.is_software()) {
            let without_top_k = &text[..text.find("[[strategies]]\n        name = \"top-50\"").unwrap()];
            let plan = crate::common::plan(without_top_k);
            let on_gpu = simulate(&plan, &mut gpu);
            assert_paths_agree(model, &on_gpu, &simulate_cpu(&plan, Precision::F64), 5e-4);
            continue;
        }
        gpu.check_fits(&plan).unwrap_or_else(|reason| panic!("{model}: {reason}"));
        let on_gpu = simulate(&plan, &mut gpu);
        let on_cpu = simulate_cpu(&plan, Precision::F64);
        let largest = assert_paths_agree(model, &on_gpu, &on_cpu, 5e-4);
        eprintln!("{model}, 600 stocks, per-path arrays in storage: largest gap {largest:e}");
    }
}

/// Eight stocks with growth rates, vols and correlations that differ, so that the
/// optimiser's budget, bounds and turnover limit all bind on some rebalances.
const OPTIMISED: &str = r#"
    name = "optimised"
    seed = 21
    paths = 64
    years = 0.5
    [market]
    n = 8
    zipf = 1.0
    growth = [0.02, 0.04, 0.06, 0.08, 0.03, 0.05, 0.07, 0.09]
    vol = { from = 0.15, to = 0.5 }
    correlation = 0.3
    [[strategies]]
    name = "max-growth-3%-weekly"
    weighting = "max_growth"
    te_budget = 0.03
    rebalance_every = 5
    cost_bps = 10.0
    [[strategies]]
    name = "max-growth-bounded-daily"
    weighting = "max_growth"
    te_budget = 0.05
    use_growth = true
    max_active = 0.04
    max_turnover = 0.01
    [[strategies]]
    name = "max-growth-wide-monthly"
    weighting = "max_growth"
    te_budget = 10.0
    rebalance_every = 21
    [[strategies]]
    name = "equal"
    weighting = "equal"
"#;

#[test]
fn max_growth_on_the_gpu_agrees_with_the_cpu_per_path_and_meets_its_constraints() {
    let Some(context) = GpuContext::for_tests() else { return };
    let plan = plan(OPTIMISED);
    let mut gpu = GpuBackend::new(context);
    let on_gpu = simulate(&plan, &mut gpu);
    let on_cpu = simulate_cpu(&plan, Precision::F64);
    // The f32 solver stops at residuals of 2e-6 (the f64 one at 1e-8), so the weights
    // differ by about 1e-5 at each rebalance; over 126 daily steps that moves a
    // relative log return by well under 1e-4 (f32 rounding alone gives about 1e-5).
    let largest = assert_paths_agree("max_growth", &on_gpu, &on_cpu, 2e-4);
    eprintln!("max_growth: largest GPU-CPU gap in relative log return {largest:e}");
    // Grid points at steps whose returns a max_growth solve books between dispatches
    // (every point, for the daily strategy) are recorded after the solve: the grid's
    // means agree as the paths do.
    let grid_gaps = assert_grids_agree(&on_gpu, &on_cpu, 2e-4);
    eprintln!("max_growth: time grid, largest gap of a mean per quantity {grid_gaps:?}");
    // Every rebalance of every path: sum, sign, budget and bounds within 1e-4 in f32.
    let residual = gpu.max_growth_residual();
    eprintln!("max_growth: largest constraint residual on the GPU {residual:e}");
    assert!(residual <= 1e-4, "constraint residual {residual:e}");
    // The budget binds: the weekly 3 % strategy's realised tracking error is near it.
    let tracking_error = on_gpu.per_path[0].iter().map(|p| p.tracking_error).sum::<f64>() / on_gpu.paths() as f64;
    assert!((tracking_error / 0.03 - 1.0).abs() < 0.2, "realised tracking error {tracking_error}");
}

#[test]
fn max_growth_with_a_trailing_estimate_agrees_on_the_gpu_and_the_cpu() {
    // Each path estimates its covariance at each rebalance from its own last 60 daily
    // returns (auto and fixed shrinkage, one with growth rates and bounds), and holds
    // the market until it has two. The GPU estimates in f32 and eigendecomposes by
    // Jacobi, the CPU in f64 with nalgebra: the problems agree to about 1e-6 relative,
    // the optimum is unique, so the solutions agree as with the model's covariance.
    let Some(context) = GpuContext::for_tests() else { return };
    let text = OPTIMISED
        .replace("rebalance_every = 5\n", "rebalance_every = 5\n    estimate = \"trailing\"\n    lookback = 60\n")
        .replace("max_turnover = 0.01\n", "max_turnover = 0.01\n    estimate = \"trailing\"\n    lookback = 40\n    shrinkage = 0.2\n    rebalance_every = 3\n");
    assert_eq!(text.matches("trailing").count(), 2);
    let plan = plan(&text);
    let mut gpu = GpuBackend::new(context);
    let on_gpu = simulate(&plan, &mut gpu);
    let on_cpu = simulate_cpu(&plan, Precision::F64);
    let largest = assert_paths_agree("max_growth trailing", &on_gpu, &on_cpu, 2e-4);
    eprintln!("max_growth trailing: largest GPU-CPU gap in relative log return {largest:e}");
    for s in [0, 1] {
        let gap = on_gpu.per_path[s]
            .iter()
            .zip(&on_cpu.per_path[s])
            .map(|(g, c)| (g.relative_log_return - c.relative_log_return).abs())
            .fold(0.0, f64::max);
        let tracking_error = on_gpu.per_path[s].iter().map(|p| p.tracking_error).sum::<f64>() / on_gpu.paths() as f64;
        eprintln!("{}: largest gap {gap:e}, mean tracking error {tracking_error}", on_gpu.strategy_names[s]);
        // The estimates steer: each spends a good part of its budget (3 % and 5 %).
        assert!(tracking_error > 0.01, "{}: tracking error {tracking_error}", on_gpu.strategy_names[s]);
    }
    let residual = gpu.max_growth_residual();
    eprintln!("max_growth trailing: largest constraint residual on the GPU {residual:e}");
    assert!(residual <= 1e-4, "constraint residual {residual:e}");
}

/// OPTIMISED's market as a two-factor model: its max_growth strategies believe the
/// factor covariance, which the GPU solves in the factor form (max_growth_factor.wgsl).
fn optimised_with_factors() -> String {
    let text = OPTIMISED.replace(
        "vol = { from = 0.15, to = 0.5 }\n    correlation = 0.3\n",
        "factor_loadings = [[0.2, 0.05], [0.15, -0.05], [0.25, 0.1], [0.1, 0.0], [0.2, -0.1], [0.3, 0.05], \
         [0.12, 0.08], [0.18, -0.02]]\n    idiosyncratic_vol = { from = 0.15, to = 0.45 }\n",
    );
    assert!(text.contains("factor_loadings"));
    text
}

#[test]
fn max_growth_in_the_factor_form_agrees_on_the_gpu_and_the_cpu_per_path() {
    // The f32 dual solver against the CPU's f64 one, with the budget, the bounds and the
    // turnover limit binding on some rebalances: the optimum is unique, so the weights
    // agree to the f32 solver's precision (a few 1e-6) and the returns as the eigenbasis
    // solver's do (2e-4 over 126 steps, measured below).
    let Some(context) = GpuContext::for_tests() else { return };
    let plan = plan(&optimised_with_factors());
    for s in 0..3 {
        assert_eq!(solver(&plan, s), Some(Solver::Factor { factors: 2 }), "strategy {s}");
    }
    let mut gpu = GpuBackend::new(context);
    let on_gpu = simulate(&plan, &mut gpu);
    let on_cpu = simulate_cpu(&plan, Precision::F64);
    let largest = assert_paths_agree("max_growth factor form", &on_gpu, &on_cpu, 2e-4);
    eprintln!("max_growth factor form: largest GPU-CPU gap in relative log return {largest:e}");
    let grid_gaps = assert_grids_agree(&on_gpu, &on_cpu, 2e-4);
    eprintln!("max_growth factor form: time grid, largest gap of a mean per quantity {grid_gaps:?}");
    let residual = gpu.max_growth_residual();
    eprintln!("max_growth factor form: largest constraint residual on the GPU {residual:e}");
    assert!(residual <= 1e-4, "constraint residual {residual:e}");
    let tracking_error = on_gpu.per_path[0].iter().map(|p| p.tracking_error).sum::<f64>() / on_gpu.paths() as f64;
    assert!((tracking_error / 0.03 - 1.0).abs() < 0.2, "realised tracking error {tracking_error}");
}

#[test]
fn the_gpu_runs_max_growth_on_the_1000_stock_factor_market_and_agrees_with_the_cpu() {
    // The max_growth benchmark workload's market (1,000 stocks, 10 factors, Zipf caps)
    // and strategies, a quarter of a year with monthly max_growth rebalances (two, and
    // a bounded one with growth rates and a turnover limit), 16 paths. The eigenbasis
    // solver could not run it: N x N products per iteration, 700 stocks at most on
    // hardware, and past a software adapter's loop cap. The factor form keeps no
    // private array that grows with N, so the path arrays live in storage buffers.
    let Some(context) = GpuContext::for_tests() else { return };
    let mut scenario = sptlab::scenario::workloads::max_growth_workload(16);
    scenario.years = 0.25;
    let mut bounded = scenario.strategies[2].clone();
    scenario.strategies[2].rebalance_every = 21;
    bounded.name = "max-growth-bounded".into();
    bounded.rebalance_every = 21;
    bounded.use_growth = Some(true);
    bounded.max_active = Some(0.002);
    bounded.max_turnover = Some(0.02);
    scenario.strategies.push(bounded);
    let plan = scenario.validate().expect("the workload is valid");
    assert_eq!(plan.n(), 1000);
    assert_eq!(solver(&plan, 2), Some(Solver::Factor { factors: 10 }));
    let mut gpu = GpuBackend::new(context).with_kernel(KernelChoice::Auto);
    gpu.check_fits(&plan).unwrap_or_else(|reason| panic!("{reason}"));
    let on_gpu = simulate(&plan, &mut gpu);
    let on_cpu = simulate_cpu(&plan, Precision::F64);
    let largest = assert_paths_agree("max_growth, 1,000 stocks", &on_gpu, &on_cpu, 2e-4);
    eprintln!("max_growth, 1,000 stocks: largest GPU-CPU gap in relative log return {largest:e}");
    let residual = gpu.max_growth_residual();
    eprintln!("max_growth, 1,000 stocks: largest constraint residual on the GPU {residual:e}");
    assert!(residual <= 1e-4, "constraint residual {residual:e}");
    // The optimisers trade: their weights are not the market's.
    for s in [2, 3] {
        let turnover = on_gpu.per_path[s].iter().map(|p| p.turnover).sum::<f64>() / on_gpu.paths() as f64;
        assert!(turnover > 0.01, "{}: turnover {turnover}", on_gpu.strategy_names[s]);
    }
}

#[test]
fn a_batch_holds_every_path_that_fits_the_adapter() {
    use sptlab::engine::Backend;
    let Some(context) = GpuContext::for_tests() else { return };
    let gpu = GpuBackend::new(context);
    // 1,000 paths of 30 stocks need a few MB: one batch of whole workgroups (a batch of
    // one workgroup would leave all but one core of a software adapter idle).
    let plan = plan(&MIXED.replace("paths = 48", "paths = 1000"));
    assert_eq!(gpu.batch_paths(&plan), 1024);
    let limited = GpuBackend::new(GpuContext::for_tests().unwrap()).with_batch_limit(100);
    assert_eq!(limited.batch_paths(&plan), 128);
}

#[test]
fn bootstrap_paths_on_the_gpu_take_the_cpu_s_days() {
    // The days come from integer arithmetic on the same Philox words, so a GPU path takes
    // the CPU path's days and differs only by f32 rounding: over 504 steps of real daily
    // changes, the relative and market log returns and the controls within 2e-3 (as the
    // other models), with every weighting the per-path kernel runs.
    let Some(context) = GpuContext::for_tests() else { return };
    let data = crate::common::data_file(12, "2008-01-01");
    let text = format!(
        "seed = 21\npaths = 40\nyears = 2.0\n[market]\nmodel = \"bootstrap\"\ndata = \"{data}\"\nmean_block = 10\n\
         zipf = 0.8\n{}",
        crate::models::MODEL_STRATEGIES
    );
    let mut gpu = GpuBackend::new(context);
    let mut plan = plan(&text);
    if gpu.is_gl() {
        // llvmpipe under OpenGL cannot rank stocks (GpuBackend::check_fits): without top-k.
        assert!(gpu.check_fits(&plan).unwrap_err().to_string().contains("OpenGL"));
        plan = crate::common::plan(
            &text[..text[..text.find("name = \"top-4\"").unwrap()].rfind("[[strategies]]").unwrap()],
        );
    }
    gpu.check_fits(&plan).unwrap();
    let on_gpu = simulate(&plan, &mut gpu);
    let on_cpu = simulate_cpu(&plan, Precision::F64);
    let largest = assert_paths_agree("bootstrap", &on_gpu, &on_cpu, 2e-3);
    eprintln!("bootstrap: largest gap of a relative log return, GPU vs CPU f64: {largest:e}");
    // Not a trivial agreement: the paths differ from each other by far more.
    let spread = on_cpu.market_log_return.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    assert!(spread > 0.05, "{spread}");
}

/// An open market for the per-path kernel: 30 stocks two years daily, an index of the
/// largest 15 with a buffer of 3, rebalancing intervals that do not divide its 21
/// steps, costs and screens, every weighting the GPU runs there (top-k, which ranks,
/// is added where the adapter can rank).
fn open_market(benchmark: &str, ranks: bool) -> String {
    let top_k = if ranks {
        "[[strategies]]\nname = \"top-8\"\nweighting = \"top_k\"\nk = 8\nbuffer = 2\nrebalance_every = 42\n\
         cost_bps = 10.0\nexclude = [3]\n"
    } else {
        ""
    };
    format!(
        "seed = 5\npaths = 128\nyears = 2.0\n[market]\nn = 30\nzipf = 1.0\ngrowth = 0.05\n\
         vol = {{ from = 0.2, to = 0.5 }}\ncorrelation = 0.2\n{benchmark}\n\
         [[strategies]]\nname = \"equal\"\nweighting = \"equal\"\nrebalance_every = 10\ncost_bps = 20.0\nexclude = [0, 5, 7]\n\
         [[strategies]]\nname = \"diversity\"\nweighting = \"diversity\"\np = 0.5\ncost_bps = 5.0\n\
         [[strategies]]\nname = \"diversity-negative\"\nweighting = \"diversity\"\np = -0.5\nrebalance_every = 5\n\
         [[strategies]]\nname = \"entropy\"\nweighting = \"entropy\"\nrebalance_every = 63\nexclude = [1]\n\
         [[strategies]]\nname = \"screened-index\"\nweighting = \"market\"\nexclude = [2]\n\
         [[strategies]]\nname = \"capped\"\nweighting = \"capped\"\ncap = 0.1\nrebalance_every = 21\nexclude = [4]\n\
         {top_k}"
    )
}

/// Per path, the GPU's open-market figures against the CPU's (f64) where `same` says
/// the path's members agree: L, the leakage, screen and cost terms within `tolerance`,
/// and the GPU's own identity (screen + generating + drift + leakage + cost = L) within
/// 1e-3 as in a closed market. Returns the largest gap of L.
fn assert_open_paths_agree(
    on_gpu: &sptlab::Results,
    on_cpu: &sptlab::Results,
    same: &dyn Fn(usize) -> bool,
    tolerance: f64,
) -> f64 {
    let mut largest = 0.0f64;
    for (s, name) in on_cpu.strategy_names.iter().enumerate() {
        for (path, (g, c)) in on_gpu.per_path[s].iter().zip(&on_cpu.per_path[s]).enumerate() {
            let residual = g.master_equation_residual();
            assert!(residual.abs() < 1e-3, "{name}, path {path}: GPU residual {residual:e}");
            if !same(path) {
                continue;
            }
            largest = largest.max((g.relative_log_return - c.relative_log_return).abs());
            for (term, gpu, cpu) in [
                ("L", g.relative_log_return, c.relative_log_return),
                ("leakage", g.leakage_term, c.leakage_term),
                ("screen", g.screen_term, c.screen_term),
                ("cost", g.cost_term, c.cost_term),
                ("control", g.control_term, c.control_term),
                ("tracking error", g.tracking_error, c.tracking_error),
                ("volatility", g.volatility, c.volatility),
            ] {
                assert!((gpu - cpu).abs() < tolerance, "{name}, path {path}, {term}: GPU {gpu} vs CPU {cpu}");
            }
            // Concave G: every holding period's drift is non-negative, to f32 rounding.
            if !matches!(name.as_str(), "diversity-negative" | "capped" | "top-8") {
                assert!(g.min_divergence > -1e-5, "{name}, path {path}: drift {:e}", g.min_divergence);
            }
        }
    }
    largest
}

#[test]
fn screens_on_the_gpu_agree_with_the_cpu_per_path() {
    // Without an index nothing is ranked, so this runs under OpenGL too.
    let Some(context) = GpuContext::for_tests() else { return };
    let mut gpu = GpuBackend::new(context);
    let plan = plan(&open_market("", !gpu.is_gl()));
    let on_gpu = simulate(&plan, &mut gpu);
    let on_cpu = simulate_cpu(&plan, Precision::F64);
    // f32 over 504 steps, as the closed market's tolerance over 2,520.
    let largest = assert_open_paths_agree(&on_gpu, &on_cpu, &|_| true, 2e-3);
    assert_paths_agree("gbm with screens", &on_gpu, &on_cpu, 2e-3);
    assert_grids_agree(&on_gpu, &on_cpu, 1e-3);
    eprintln!("screens, GPU vs CPU: largest gap of L {largest:e}");
    let equal = on_cpu.strategy_names.iter().position(|n| n == "equal").unwrap();
    let screen = on_gpu.per_path[equal].iter().map(|p| p.screen_term.abs()).sum::<f64>();
    assert!(screen > 1e-3, "the screen term is computed on the GPU ({screen})");
}

#[test]
fn an_index_on_the_gpu_agrees_with_the_cpu_on_every_path_whose_members_agree() {
    let Some(context) = GpuContext::for_tests() else { return };
    let mut gpu = GpuBackend::new(context);
    let plan = plan(&open_market("[benchmark]\nindex = 15\nreconstitute_every = 21\nbuffer = 3", true));
    if gpu.is_gl() && gpu.is_software() {
        // llvmpipe's OpenGL driver cannot rank (`ranking_refused`): refused up front.
        let refusal = gpu.check_fits(&plan).expect_err("refused under OpenGL on llvmpipe").to_string();
        assert!(refusal.contains("benchmark.index"), "{refusal}");
        return;
    }
    let paths = 0..plan.paths;
    let batch_gpu = gpu.simulate(&plan, paths.clone(), &|_| {}).expect("the GPU runs an index");
    let batch_cpu = CpuBackend::new(Precision::F64, None).simulate(&plan, paths, &|_| {}).unwrap();
    // f32 and f64 may rank two near-equal caps differently at the index's edge: paths are
    // compared where every reconstitution chose the same members (the history's hash).
    let same = |path: usize| batch_gpu.membership_history[path] == batch_cpu.membership_history[path];
    let agreeing = (0..plan.paths as usize).filter(|&p| same(p)).count();
    assert!(100 * agreeing >= 99 * plan.paths as usize, "{agreeing} of {} paths share their history", plan.paths);
    let distinct: std::collections::HashSet<u32> = batch_cpu.membership_history.iter().copied().collect();
    assert!(distinct.len() > plan.paths as usize / 2, "the history tells paths apart ({} distinct)", distinct.len());
    let (mut on_gpu, mut on_cpu) = (sptlab::Results::new(&plan), sptlab::Results::new(&plan));
    on_gpu.absorb(&batch_gpu);
    on_cpu.absorb(&batch_cpu);
    let largest = assert_open_paths_agree(&on_gpu, &on_cpu, &same, 2e-3);
    eprintln!(
        "index, GPU vs CPU: {agreeing} of {} paths share their history; largest gap of L {largest:e}",
        plan.paths
    );
    // The index itself: its log return, control and turnover.
    for path in (0..plan.paths as usize).filter(|&p| same(p)) {
        let (g, c) = (batch_gpu.index_values(path).unwrap(), batch_cpu.index_values(path).unwrap());
        for (field, (g, c)) in ["log return", "control", "turnover"].iter().zip(g.iter().zip(c)) {
            assert!((g - c).abs() < 2e-3, "path {path}, index {field}: GPU {g} vs CPU {c}");
        }
    }
    let leakage = on_gpu.per_path[1].iter().map(|p| p.leakage_term).sum::<f64>() / plan.paths as f64;
    assert!(leakage < -1e-3, "diversity's leakage is a loss on the GPU too ({leakage})");
    // What the GPU does not run there, it refuses with the reason (auto takes the CPU).
    let optimised =
        plan_with_index_and("[[strategies]]\nname = \"optimised\"\nweighting = \"max_growth\"\nte_budget = 0.03");
    let refusal = gpu.check_fits(&optimised).expect_err("max_growth on index members").to_string();
    assert!(refusal.contains("strategies[0].weighting: max_growth"), "{refusal}");
}

fn plan_with_index_and(strategies: &str) -> sptlab::Plan {
    plan(&format!(
        "paths = 8\nyears = 0.5\n[market]\nn = 20\nvol = 0.2\n[benchmark]\nindex = 10\nreconstitute_every = 21\n{strategies}"
    ))
}

#[test]
fn an_index_of_600_stocks_with_its_arrays_in_storage_agrees_with_the_cpu() {
    // Past 512 stocks a path's arrays, the index's members and rank order among them,
    // live in storage buffers: an index of 300 with a buffer of 30, reconstituted
    // every 5 steps, a factor market, diversity and a screened equal weight.
    let Some(context) = GpuContext::for_tests() else { return };
    let mut gpu = GpuBackend::new(context);
    if gpu.is_gl() && gpu.is_software() {
        return; // an index ranks stocks: refused there (the test above checks the refusal)
    }
    let n = 600;
    let loadings: Vec<String> =
        (0..n).map(|i| format!("[{:.3}, {:.3}]", 0.1 + 0.0001 * i as f64, 0.05 - 0.01 * (i % 5) as f64)).collect();
    let text = format!(
        "seed = 9\npaths = 40\nyears = 0.1\nsteps_per_year = 252\n[market]\nn = {n}\nzipf = 1.0\ngrowth = 0.05\n\
         idiosyncratic_vol = 0.3\nfactor_loadings = [{}]\n[benchmark]\nindex = 300\nreconstitute_every = 5\nbuffer = 30\n\
         [[strategies]]\nname = \"diversity\"\nweighting = \"diversity\"\np = 0.5\ncost_bps = 10.0\n\
         [[strategies]]\nname = \"equal-screened\"\nweighting = \"equal\"\nrebalance_every = 3\nexclude = [0, 20, 40]\n",
        loadings.join(", ")
    );
    let plan = plan(&text);
    assert!(sptlab::engine::gpu::layout::StateLayout::of(&plan).path_arrays_in_scratch());
    let paths = 0..plan.paths;
    let batch_gpu = gpu.simulate(&plan, paths.clone(), &|_| {}).expect("the GPU runs a 600-stock index");
    let batch_cpu = CpuBackend::new(Precision::F64, None).simulate(&plan, paths, &|_| {}).unwrap();
    let same = |path: usize| batch_gpu.membership_history[path] == batch_cpu.membership_history[path];
    let agreeing = (0..plan.paths as usize).filter(|&p| same(p)).count();
    assert!(agreeing + 1 >= plan.paths as usize, "{agreeing} of {} paths share their history", plan.paths);
    let (mut on_gpu, mut on_cpu) = (sptlab::Results::new(&plan), sptlab::Results::new(&plan));
    on_gpu.absorb(&batch_gpu);
    on_cpu.absorb(&batch_cpu);
    let largest = assert_open_paths_agree(&on_gpu, &on_cpu, &same, 5e-4);
    let leakage = on_cpu.per_path[0].iter().map(|p| p.leakage_term.abs()).sum::<f64>();
    assert!(leakage > 0.0, "members changed, so the leakage term moved");
    eprintln!("600-stock index in storage: {agreeing} of 40 paths share their history; largest gap of L {largest:e}");
}
