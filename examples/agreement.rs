//! Measures per-path GPU (f32) vs CPU (f64) agreement and master-equation residuals on a
//! scenario: `cargo run --release --example agreement -- [SCENARIO] [paths]`.

use sptlab::engine::gpu::{GpuBackend, GpuContext};
use sptlab::engine::{CpuBackend, Precision};
use sptlab::Scenario;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut scenario = match args.next() {
        Some(path) => Scenario::from_toml(&std::fs::read_to_string(path)?)?,
        None => Scenario::default_scenario(),
    };
    scenario.paths = args.next().and_then(|a| a.parse().ok()).unwrap_or(128);
    let plan = scenario.validate()?;
    let (cpu, _) = sptlab::simulate(&plan, &mut CpuBackend::new(Precision::F64, None), &|_| {})?;
    let (gpu, run) = sptlab::simulate(&plan, &mut GpuBackend::new(GpuContext::new(true)?), &|_| {})?;
    println!("{} paths x {} steps on {}", plan.paths, plan.steps, run.backend.adapter);
    for (s, name) in cpu.strategy_names.iter().enumerate() {
        let pairs = gpu.per_path[s].iter().zip(&cpu.per_path[s]);
        let gap = pairs.clone().map(|(g, c)| (g.relative_log_return - c.relative_log_return).abs()).fold(0.0, f64::max);
        let gpu_residual = gpu.per_path[s].iter().map(|g| g.master_equation_residual().abs()).fold(0.0, f64::max);
        let cpu_residual = cpu.per_path[s].iter().map(|c| c.master_equation_residual().abs()).fold(0.0, f64::max);
        println!(
            "{name:<16} max |L_gpu - L_cpu| {gap:.2e}   max residual: gpu f32 {gpu_residual:.2e}, cpu f64 {cpu_residual:.2e}"
        );
    }
    Ok(())
}
