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

/// The example printed from `sptlab bench`'s max_growth workload (not a shipped file:
/// its 10,000 loadings are made by a rule).
const MAX_GROWTH_EXAMPLE: &str = "max_growth_1000";
const MANDATE_EXAMPLE: &str = "sp500_mandate";
/// The mandate's default paths: its four strategies to about 0.01 %/yr (95 %).
const MANDATE_PATHS: u64 = 512;

pub fn example(name: &str) -> Result<(), Failure> {
    if name == MANDATE_EXAMPLE {
        let scenario = sptlab::scenario::sp500_mandate(MANDATE_PATHS);
        let text =
            toml::to_string(&scenario).map_err(|e| Failure::Other(anyhow::anyhow!("writing the example: {e}")))?;
        out!(
            "# The S&P 500 mandate (docs/open-markets.md): beat an index of the largest 500 of a\n\
             # 1,000-stock market whose members change, under an ethical screen. A 10-factor GBM from\n\
             # a Zipf start, idiosyncratic vol rising with rank from 15 % to 40 %; the index\n\
             # reconstituted quarterly with a buffer of 50; diversity 0.76 and equal weight monthly,\n\
             # a 2 % tracking-error max_growth quarterly and diversity 0.76 without 25 stocks\n\
             # (every 20th by initial rank), all on the index's members at 10 bp.\n{text}"
        );
        return Ok(());
    }
    if name == MAX_GROWTH_EXAMPLE {
        let scenario = sptlab::scenario::max_growth_workload(384);
        let text =
            toml::to_string(&scenario).map_err(|e| Failure::Other(anyhow::anyhow!("writing the example: {e}")))?;
        out!(
            "# The max_growth benchmark workload (`sptlab bench --workload max_growth`) as a scenario:\n\
             # a 10-factor GBM of 1,000 stocks, with diversity 0.76 and equal weight rebalanced\n\
             # monthly and a 2 % tracking-error max_growth rebalanced quarterly at 10 bp. 384\n\
             # paths bring all three to a 95 % half-width of 0.01 %/yr on relative growth.\n{text}"
        );
        return Ok(());
    }
    match example_text(name) {
        Some(text) => {
            out!("{text}");
            Ok(())
        }
        None => {
            let names: Vec<&str> = EXAMPLE_SCENARIOS
                .iter()
                .map(|(example, _)| *example)
                .chain([MAX_GROWTH_EXAMPLE, MANDATE_EXAMPLE])
                .collect();
            Err(Failure::BadInput(format!("no example scenario named {name}; there are: {}", names.join(", "))))
        }
    }
}
