//! WGSL sources and their composition: constants, then shared modules, then the kernel.

/// Philox4x32-10 and the normal transform (shared module, no entry points).
pub const PHILOX: &str = include_str!("../../../shaders/philox.wgsl");
/// Philox's 32x32 -> 64-bit multiply, composed before it: from 16-bit halves, or
/// one 64-bit product where the adapter has SHADER_INT64.
pub const PHILOX_MULTIPLY16: &str = include_str!("../../../shaders/philox_multiply16.wgsl");
pub const PHILOX_MULTIPLY64: &str = include_str!("../../../shaders/philox_multiply64.wgsl");
/// What both simulation kernels share: the dispatch parameters and a strategy's
/// per-path accounting (composed before either).
const PATH_ACCOUNTING: &str = include_str!("../../../shaders/path_accounting.wgsl");
/// The block kernel `advance_block` (hardware adapters; block.rs).
pub const BLOCK_PATHS: &str = include_str!("../../../shaders/block_paths.wgsl");
/// The simulation kernels `init_paths` and `advance_paths`.
pub const ADVANCE_PATHS: &str = include_str!("../../../shaders/advance_paths.wgsl");
/// Ranking by cap (insertion sort of a per-path order), composed for rank-based
/// markets and top-k strategies.
/// A path's per-stock arrays for the per-path kernel: private memory, or (many stocks)
/// storage buffers; the same functions either way.
pub const PATH_ARRAYS_PRIVATE: &str = include_str!("../../../shaders/path_arrays_private.wgsl");
pub const PATH_ARRAYS_SCRATCH: &str = include_str!("../../../shaders/path_arrays_scratch.wgsl");
pub const RANKING: &str = include_str!("../../../shaders/ranking.wgsl");
/// Top-k weighting support, composed when a strategy is top_k.
pub const TOP_K: &str = include_str!("../../../shaders/top_k.wgsl");
/// Its stand-ins otherwise.
pub const TOP_K_ABSENT: &str = "fn load_top_k_state(lane: u32) {}
fn store_top_k_state(lane: u32) {}
fn top_k_setup(s: u32, log_total: f32, cut: ptr<function, bool>) -> vec4<f32> {
    return vec4<f32>(0.0);
}
fn top_k_weight(s: u32, i: u32, log_total: f32, setup: vec4<f32>) -> f32 {
    return 0.0;
}
fn open_top_k_targets(s: u32, before: bool, log_total: f32, cut: ptr<function, bool>) {}
";
/// What both max_growth solvers share (`defer_max_growth`), composed when a strategy
/// is max_growth.
/// The open market (an index benchmark, screens) in the per-path kernel.
pub const OPEN_MARKET: &str = include_str!("../../../shaders/open_market.wgsl");
/// Its stand-ins in a closed market (every call to them sits behind `INDEX` or `OPEN`).
pub const OPEN_MARKET_ABSENT: &str = "fn member(i: u32) -> f32 { return 1.0; }
fn allowed(s: u32, i: u32, before: bool) -> f32 { return 1.0; }
fn load_index_state(lane: u32) {}
fn store_index_state(lane: u32) {}
fn index_step(market_gross: f32, member_share: f32, completed_steps: u32, is_last: bool, cut: ptr<function, bool>) -> vec4<f32> {
    return vec4<f32>(market_gross, 0.0, 0.0, 0.0);
}
fn open_strategy_step(s: u32, value: f32, rebalance: bool, is_last: bool, reconstituted: bool, log_total: f32, cut: ptr<function, bool>) -> f32 {
    return 1.0;
}
fn record_open_grid_cells(point: u32, s: u32, lane: u32) {}
";
pub const MAX_GROWTH_COMMON: &str = include_str!("../../../shaders/max_growth_common.wgsl");
/// The solvers' flags where the path arrays are private (path_arrays_scratch.wgsl
/// puts them at the start of the same binding otherwise).
pub const MAX_GROWTH_FLAGS: &str = "@group(0) @binding(5) var<storage, read_write> solver_flags: array<atomic<u32>, 2>;
fn raise_solver_flag(k: u32) {
    atomicStore(&solver_flags[k], 1u);
}
";
/// The eigenbasis solver's entry points, composed when a max_growth strategy's
/// covariance is full or estimated.
pub const MAX_GROWTH: &str = include_str!("../../../shaders/max_growth.wgsl");
/// The factor-form solver's entry points, composed when a max_growth strategy
/// believes a factor model's covariance.
pub const MAX_GROWTH_FACTOR: &str = include_str!("../../../shaders/max_growth_factor.wgsl");
/// The trailing estimate's entry point, composed after it when a max_growth strategy
/// estimates its covariance from each path's returns.
pub const MAX_GROWTH_ESTIMATE: &str = include_str!("../../../shaders/max_growth_estimate.wgsl");
/// Its stand-in otherwise.
pub const MAX_GROWTH_ABSENT: &str = "fn defer_max_growth(s: u32, lane: u32, gross: f32, market_gross: f32) {}\n";
/// A path's strategy state (holdings, accumulators) in private arrays for a
/// whole dispatch, loaded at its start and stored at its end: far fewer storage
/// accesses in the step loop (STRATEGY_WORDS = S N, STRATEGY_SLOT_WORDS = S SLOT_COUNT).
pub const STRATEGY_STATE_PRIVATE: &str = "var<private> strategy_holdings: array<f32, STRATEGY_WORDS>;
var<private> strategy_slots: array<f32, STRATEGY_SLOT_WORDS>;
fn holding(s: u32, i: u32) -> f32 {
    return strategy_holdings[s * N + i];
}
fn set_holding(s: u32, i: u32, value: f32) {
    strategy_holdings[s * N + i] = value;
}
fn slot_value(s: u32, k: u32) -> f32 {
    return strategy_slots[s * SLOT_COUNT + k];
}
fn set_slot(s: u32, k: u32, value: f32) {
    strategy_slots[s * SLOT_COUNT + k] = value;
}
fn load_strategy(s: u32, lane: u32) {
    for (var i = 0u; i < N; i++) {
        strategy_holdings[s * N + i] = state[at(HOLDINGS_BASE + s * N + i, lane)];
    }
    for (var k = 0u; k < SLOT_COUNT; k++) {
        strategy_slots[s * SLOT_COUNT + k] = state[at(SLOTS_BASE + s * SLOT_COUNT + k, lane)];
    }
}
fn store_strategy(s: u32, lane: u32) {
    for (var i = 0u; i < N; i++) {
        state[at(HOLDINGS_BASE + s * N + i, lane)] = strategy_holdings[s * N + i];
    }
    for (var k = 0u; k < SLOT_COUNT; k++) {
        state[at(SLOTS_BASE + s * SLOT_COUNT + k, lane)] = strategy_slots[s * SLOT_COUNT + k];
    }
}
";
/// The same accessors straight on the state buffer, for plans whose strategy state is
/// too large for private arrays (llvmpipe's compile time grows with their size squared).
pub const STRATEGY_STATE_STORAGE: &str = "fn holding(s: u32, i: u32) -> f32 {
    return state[at(HOLDINGS_BASE + s * N + i, current_lane)];
}
fn set_holding(s: u32, i: u32, value: f32) {
    state[at(HOLDINGS_BASE + s * N + i, current_lane)] = value;
}
fn slot_value(s: u32, k: u32) -> f32 {
    return state[at(SLOTS_BASE + s * SLOT_COUNT + k, current_lane)];
}
fn set_slot(s: u32, k: u32, value: f32) {
    state[at(SLOTS_BASE + s * SLOT_COUNT + k, current_lane)] = value;
}
fn load_strategy(s: u32, lane: u32) {}
fn store_strategy(s: u32, lane: u32) {}
";
/// Test kernel: Philox words and normals for given counters.
pub const PHILOX_WORDS: &str = include_str!("../../../shaders/philox_words.wgsl");

/// How a kernel computes Philox's 32x32 -> 64-bit products (the same words either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhiloxMultiply {
    /// Four 16-bit products and their carries: core WGSL, every adapter.
    Halves,
    /// One `u64` product: adapters with `wgpu::Features::SHADER_INT64`.
    Native64,
}

impl PhiloxMultiply {
    /// The native multiply where the device was created with SHADER_INT64.
    pub fn for_features(features: wgpu::Features) -> PhiloxMultiply {
        if features.contains(wgpu::Features::SHADER_INT64) {
            PhiloxMultiply::Native64
        } else {
            PhiloxMultiply::Halves
        }
    }

    fn wgsl(self) -> &'static str {
        match self {
            PhiloxMultiply::Halves => PHILOX_MULTIPLY16,
            PhiloxMultiply::Native64 => PHILOX_MULTIPLY64,
        }
    }
}

/// What both simulation kernels share: the dispatch parameters (composed from Rust)
/// and `shaders/path_accounting.wgsl`.
pub fn path_accounting() -> String {
    format!("{}\n{PATH_ACCOUNTING}", super::params::DispatchParams::wgsl())
}

/// `const NAME = VALUE;` for each constant (values are typed WGSL literals such as
/// `100u` or `array<f32, 2>(0.5, 1.0)`), then the shared modules, then `kernel`.
pub fn compose(kernel: &str, constants: &[(&str, String)], multiply: PhiloxMultiply) -> String {
    let mut source = String::from("// Composed by sptlab: constants, philox.wgsl, kernel.\n");
    for (name, value) in constants {
        source.push_str(&format!("const {name} = {value};\n"));
    }
    source.push_str(multiply.wgsl());
    source.push_str(PHILOX);
    source.push('\n');
    source.push_str(kernel);
    source
}

pub fn philox_words_source(multiply: PhiloxMultiply) -> String {
    compose(PHILOX_WORDS, &[], multiply)
}

/// The marker that makes a loop unrollable: `for (; VAR < BOUND; VAR++) { // unroll`.
const UNROLL_MARKER: &str = "// unroll";

/// Expands every loop marked `// unroll`, `for (; VAR < BOUND; VAR++) { // unroll` with
/// BOUND one of `bounds`, into BOUND copies of its body, each after `VAR = k;`, then
/// `VAR = BOUND;`, so that a check after the loop that it ran to its bound still holds.
/// Inner loops first. With every index a constant, llvmpipe addresses private arrays
/// directly instead of lane by lane (its dynamic indexing loops over the 8 SIMD lanes).
/// Marked bodies must not `break` or `continue` (a programming error: panics, which the
/// kernel validation tests catch).
pub fn unroll_marked_loops(source: &str, bounds: &[(&str, u32)]) -> String {
    unroll(source, bounds, false)
}

/// The same, and in each copy of a body the loop variable itself is replaced by its
/// value (`s` becomes `1u`), so that every index into a constant table or a private
/// array is a constant expression: naga materialises a constant array indexed by a
/// variable as a local copy per access, which NVIDIA's compiler keeps in local memory.
/// Bodies must not declare a name equal to their loop variable.
pub fn unroll_marked_loops_with_literals(source: &str, bounds: &[(&str, u32)]) -> String {
    unroll(source, bounds, true)
}

fn unroll(source: &str, bounds: &[(&str, u32)], literals: bool) -> String {
    let mut text = source.to_string();
    loop {
        let markers: Vec<usize> = text.match_indices(UNROLL_MARKER).map(|(at, _)| at).collect();
        let Some(expanded) = markers.iter().find_map(|&marker| {
            let line_start = text[..marker].rfind('\n').map_or(0, |at| at + 1);
            let header = &text[line_start..marker];
            let open = line_start + header.rfind('{').expect("a marked loop opens its body on its line");
            let body_start = text[marker..].find('\n').map_or(text.len(), |at| marker + at + 1);
            let close = matching_brace(&text, open);
            let body = &text[body_start..close];
            if body.contains(UNROLL_MARKER) {
                return None; // an inner marked loop goes first
            }
            assert!(!body.contains("break") && !body.contains("continue"), "unrolled body leaves its loop: {body}");
            let condition = header.trim().trim_start_matches("for (;").trim();
            let (variable, rest) = condition.split_once('<').expect("for (; VAR < BOUND; VAR++)");
            let bound_name = rest.split(';').next().expect("for (; VAR < BOUND; VAR++)").trim();
            let bound = bounds
                .iter()
                .find(|(name, _)| *name == bound_name)
                .unwrap_or_else(|| panic!("unrolled loop bound {bound_name} is not a known constant"))
                .1;
            let variable = variable.trim();
            let indent = &header[..header.len() - header.trim_start().len()];
            let mut copies = String::new();
            for k in 0..bound {
                let body = if literals { replace_word(body, variable, &format!("{k}u")) } else { body.to_string() };
                copies.push_str(&format!("{indent}{variable} = {k}u;\n{indent}{{\n{body}{indent}}}\n"));
            }
            copies.push_str(&format!("{indent}{variable} = {bound}u;"));
            Some(format!("{}{copies}{}", &text[..line_start], &text[close + 1..]))
        }) else {
            assert!(markers.is_empty(), "marked loops left unexpanded");
            return text;
        };
        text = expanded;
    }
}

/// `text` with every whole-word occurrence of `word` (an identifier) replaced.
fn replace_word(text: &str, word: &str, replacement: &str) -> String {
    let is_identifier = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + word.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(is_identifier) || after.is_some_and(is_identifier) {
            out.push_str(word);
        } else {
            out.push_str(replacement);
        }
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

/// The index of the `}` that closes the `{` at `open`.
fn matching_brace(text: &str, open: usize) -> usize {
    let mut depth = 0usize;
    for (at, byte) in text.bytes().enumerate().skip(open) {
        match byte {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return at;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces in WGSL")
}

/// Parses and validates WGSL with naga, as wgpu would, without a GPU.
/// A WGSL f32 literal of `value` (rounded to f32, printed to round-trip).
pub fn f32_literal(value: f64) -> String {
    format!("{:?}", value as f32)
}

#[cfg(test)]
pub(crate) fn validate_wgsl(source: &str) -> Result<(), String> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
        .validate(&module)
        .map(|_| ())
        .map_err(|e| e.emit_to_string(source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{standard_workload, Scenario};

    #[test]
    fn marked_loops_unroll_innermost_first_and_leave_their_counter_at_the_bound() {
        let source = "fn f() {
    var i = 0u;
    for (; i < N; i++) { // unroll
        var j = 0u;
        for (; j < M; j++) { // unroll
            x[i][j] = 1.0;
        }
    }
    ok = i == N;
}
";
        let unrolled = unroll_marked_loops(source, &[("N", 2), ("M", 3)]);
        assert!(!unrolled.contains("for ("), "{unrolled}");
        assert_eq!(unrolled.matches("x[i][j] = 1.0;").count(), 6, "{unrolled}");
        assert_eq!(unrolled.matches("i = 1u;").count(), 1);
        assert!(unrolled.contains("i = 2u;") && unrolled.contains("j = 3u;") && unrolled.contains("ok = i == N;"));
        // Unmarked loops stay loops.
        assert_eq!(unroll_marked_loops("for (; i < N; i++) {\n}\n", &[("N", 2)]), "for (; i < N; i++) {\n}\n");
    }

    #[test]
    fn the_philox_test_kernel_validates() {
        for multiply in [PhiloxMultiply::Halves, PhiloxMultiply::Native64] {
            validate_wgsl(&philox_words_source(multiply)).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// Every kernel variant the tests build: (scenario name, composed WGSL).
    fn test_variants() -> Vec<(String, String)> {
        let plans = [
            Scenario::default_scenario().validate().unwrap(),
            standard_workload(64).validate().unwrap(),
            // Strategy state too large for private arrays: the storage accessors.
            crate::scenario::rank_workload(600, 64).validate().unwrap(),
            Scenario::from_toml(
                r#"
                [market]
                n = 3
                vol = 0.2
                [[strategies]]
                name = "sixty-thirty-ten"
                weighting = "constant"
                weights = [0.6, 0.3, 0.1]
                [[strategies]]
                name = "cap"
                weighting = "market"
                [[strategies]]
                name = "negative-p"
                weighting = "diversity"
                p = -1.0
                [[strategies]]
                name = "capped"
                weighting = "capped"
                cap = 0.4
                [[strategies]]
                name = "top-2"
                weighting = "top_k"
                k = 2
                buffer = 1
                p = 0.5
                [[strategies]]
                name = "optimised"
                weighting = "max_growth"
                te_budget = 0.02
                max_active = 0.1
                max_turnover = 0.05
                [[strategies]]
                name = "estimated"
                weighting = "max_growth"
                te_budget = 0.02
                estimate = "trailing"
                lookback = 20
                "#,
            )
            .unwrap()
            .validate()
            .unwrap(),
        ];
        let models = [
            "model = \"atlas\"\natlas_g = 0.05\nvol = 0.2",
            "model = \"first_order\"\nrank_growth = [-0.1, -0.1, 0.2]\nrank_vol = [0.2, 0.25, 0.3]",
            "model = \"vsm\"\nalpha = 1.0",
            "factor_loadings = [[0.1, 0.2], [0.2, 0.1], [0.0, 0.3]]\nidiosyncratic_vol = 0.1",
        ];
        let bootstrap = format!(
            "[market]\nmodel = \"bootstrap\"\ndata = \"{}/sp500_20_stocks_1990_2022.csv\"\nfrom = \"2022-06-01\"\n\
             [[strategies]]\nname = \"equal\"\nweighting = \"equal\"",
            crate::scenario::examples::SHIPPED_DATA
        );
        let plans = plans
            .into_iter()
            .chain(models.iter().map(|market| {
                let text =
                    format!("[market]\nn = 3\n{market}\n[[strategies]]\nname = \"equal\"\nweighting = \"equal\"");
                Scenario::from_toml(&text).unwrap().validate().unwrap()
            }))
            .chain([Scenario::from_toml(&bootstrap).unwrap().validate().unwrap()])
            // max_growth in the factor form (max_growth_factor.wgsl), beside equal weight.
            .chain([Scenario::from_toml(
                "name = \"factor-form\"\n[market]\nn = 3\nfactor_loadings = [[0.1, 0.2], [0.2, 0.1], [0.0, 0.3]]\n\
                 idiosyncratic_vol = 0.1\ngrowth = [0.01, 0.02, 0.03]\n[[strategies]]\nname = \"equal\"\n\
                 weighting = \"equal\"\n[[strategies]]\nname = \"optimised\"\nweighting = \"max_growth\"\n\
                 te_budget = 0.02\nuse_growth = true\nmax_active = 0.1\nmax_turnover = 0.05\n",
            )
            .unwrap()
            .validate()
            .unwrap()])
            // The open market (open_market.wgsl): an index with a buffer and screens, a
            // screen alone, and an index over a rank-based market (two order lists).
            .chain(
                [
                    "name = \"index\"\n[market]\nn = 6\nvol = 0.2\n[benchmark]\nindex = 3\nreconstitute_every = 5\nbuffer = 1",
                    "name = \"screen\"\n[market]\nn = 6\nvol = 0.2",
                    "name = \"atlas-index\"\n[market]\nn = 6\nmodel = \"atlas\"\natlas_g = 0.05\nvol = 0.2\n\
                     [benchmark]\nindex = 3\nreconstitute_every = 5",
                ]
                .map(|market| {
                    let strategies = "[[strategies]]\nname = \"equal\"\nweighting = \"equal\"\nexclude = [0]\n\
                         [[strategies]]\nname = \"diversity\"\nweighting = \"diversity\"\np = 0.5\n\
                         [[strategies]]\nname = \"entropy\"\nweighting = \"entropy\"\n\
                         [[strategies]]\nname = \"screened\"\nweighting = \"market\"\nexclude = [1]\n\
                         [[strategies]]\nname = \"capped\"\nweighting = \"capped\"\ncap = 0.6\nexclude = [2]\n\
                         [[strategies]]\nname = \"top-2\"\nweighting = \"top_k\"\nk = 2\nbuffer = 1\nexclude = [3]";
                    Scenario::from_toml(&format!("{market}\n{strategies}")).unwrap().validate().unwrap()
                }),
            );
        let mut variants = Vec::new();
        for plan in plans {
            // Every way of reading the market data.
            use super::super::kernel_source::MarketDataPlace;
            for (place, unrolled) in [
                (MarketDataPlace::Uniform, false),
                (MarketDataPlace::Workgroup, false),
                (MarketDataPlace::Storage, false),
                (MarketDataPlace::Uniform, true),
            ] {
                let stage = super::super::market::MarketStage::of(&plan, unrolled);
                let source =
                    super::super::kernel_source::kernel_source(&plan, &stage, place, unrolled, PhiloxMultiply::Halves);
                variants.push((plan.scenario.name.clone(), source));
            }
        }
        variants
    }

    #[test]
    fn the_simulation_kernel_validates_for_every_weighting_and_model() {
        for (name, source) in test_variants() {
            validate_wgsl(&source).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    /// A refactor must not change a kernel: the SHA-256 of every composed variant
    /// (the Philox test kernel, each of `test_variants` and of the block kernel's
    /// variants, in order). Recorded before issue 16's moves; a deliberate kernel change
    /// updates it and says why (issue 17: the block kernel, Philox's multiply composed
    /// separately, the weighting codes, max_growth offsets and phases generated from
    /// Rust, the comments' Rust paths brought up to date, the accounting both kernels
    /// share moved to path_accounting.wgsl, storage barriers for normals in the scratch buffer,
    /// `struct Params` composed from `DispatchParams`: checked to change nothing else;
    /// the per-path kernel's arrays behind accessor functions, private or in storage;
    /// both kernels' initialisation in one `init_path`, their grid cells in one
    /// `record_grid_cells`; issue 19: a bootstrap-market variant added, every earlier
    /// variant checked unchanged; issue 30: the max_growth solvers' common slots first in
    /// each block, their flags behind `raise_solver_flag` (at the start of the scratch
    /// binding when the path arrays live there), the factor-form solver and its
    /// constants, and a factor-form variant added; issue 31: risk beside return, the
    /// benchmark's return moments per path, each strategy's active-times-benchmark sum and
    /// size tilt at rebalances, and the log caps loaded where the eigenbasis solver
    /// finishes a rebalance; the comments' path of the CPU twin, now src/engine/cpu/mod.rs;
    /// then the open market in the per-path kernel: open_market.wgsl or its stand-ins
    /// composed into every per-path variant, the benchmark's gross return and noise term in
    /// place of the market's (the same values in a closed market), and three open-market
    /// variants added; then capped and top-k on the allowed stocks, `open_top_k_targets`
    /// in top_k.wgsl and its stand-in; the capped scale one function for both markets,
    /// `capped_scale`, and one Kahan sum for the index's and open words, as the
    /// `duplicates` tool asked: closed capped runs give the same bits).
    #[test]
    fn the_composed_kernels_are_unchanged() {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(philox_words_source(PhiloxMultiply::Halves).as_bytes());
        for (name, source) in test_variants().into_iter().chain(super::super::block::tests::variants()) {
            hash.update(name.as_bytes());
            hash.update(source.as_bytes());
        }
        let digest: String = hash.finalize().iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(digest, COMPOSED_KERNELS_SHA256);
    }

    const COMPOSED_KERNELS_SHA256: &str = "788d776cf7f7f4a2104d85c23919810700e386137815b0545e7db2f085d9cffa";
}
