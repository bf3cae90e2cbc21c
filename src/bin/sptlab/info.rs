//! `sptlab info` (the CPU kernel, the GPU adapters, what `auto` chooses) and
//! `sptlab example NAME` (a shipped scenario, printed).

use sptlab::engine::gpu::{self, GpuContext};
use sptlab::scenario::examples::example_text;
use sptlab::scenario::EXAMPLE_SCENARIOS;

use crate::failure::{out, outln, Failure};

pub fn info() -> Result<(), Failure> {
    outln!("sptlab {}", env!("CARGO_PKG_VERSION"));
    outln!("CPU backend: {} threads, {} kernel", rayon::current_num_threads(), sptlab::engine::cpu::kernel_flavour());
    let adapters = gpu::list_adapters();
    if adapters.is_empty() {
        outln!("GPU adapters: none found");
    }
    for adapter in &adapters {
        outln!("GPU adapter: {adapter}");
    }
    let auto = match GpuContext::new(false) {
        Ok(context) => format!("gpu ({})", context.adapter_name()),
        Err(reason) => format!("cpu ({reason})"),
    };
    outln!("--backend auto chooses: {auto}");
    Ok(())
}

pub fn example(name: &str) -> Result<(), Failure> {
    match example_text(name) {
        Some(text) => {
            out!("{text}");
            Ok(())
        }
        None => {
            let names: Vec<&str> = EXAMPLE_SCENARIOS.iter().map(|(example, _)| *example).collect();
            Err(Failure::BadInput(format!("no example scenario named {name}; there are: {}", names.join(", "))))
        }
    }
}
