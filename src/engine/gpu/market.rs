//! The market stage of the GPU kernel, one per model: its WGSL (`shaders/market_*.wgsl`),
//! constants, parameter buffer and per-path state. CPU twins live in `src/market/`.

use super::shaders::f32_literal;
use crate::market::gbm::GbmNoise;
use crate::market::Market;
use crate::scenario::Plan;

pub const MARKET_CHOLESKY: &str = include_str!("../../../shaders/market_cholesky.wgsl");
pub const MARKET_FACTOR: &str = include_str!("../../../shaders/market_factor.wgsl");
pub const MARKET_RANK: &str = include_str!("../../../shaders/market_rank.wgsl");
pub const MARKET_VSM: &str = include_str!("../../../shaders/market_vsm.wgsl");
pub const MARKET_BOOTSTRAP: &str = include_str!("../../../shaders/market_bootstrap.wgsl");

/// What the kernel needs from the market model of a plan.
#[derive(Debug, Clone)]
pub struct MarketStage {
    /// The stage's WGSL: defines `market_log_steps`, and `load_market_state` and
    /// `store_market_state` when it keeps state (the backend adds empty ones otherwise).
    pub source: String,
    /// Constants the stage's WGSL reads, besides the kernel's.
    pub constants: Vec<(&'static str, String)>,
    /// The `market_data` buffer (never empty: wgpu has no zero-sized bindings).
    pub data: Vec<[f32; 4]>,
    /// Per-stock step drift gamma_i dt for the `model` buffer (zeros where the model has none).
    pub drift: Vec<f64>,
    /// Initial values of the per-path words the stage keeps between dispatches
    /// ([`state_slots`] of them).
    pub initial_state: Vec<f64>,
}

/// Per-path words the market stage keeps between dispatches (rank models: the order).
pub fn state_slots(plan: &Plan) -> u32 {
    match plan.market {
        Market::Rank(_) => plan.n() as u32,
        // The day the path took last.
        Market::Bootstrap(_) => 1,
        _ => 0,
    }
}

/// Loop iterations of the market stage per step, at most (llvmpipe's cap counts them).
pub fn loop_trips_per_step(plan: &Plan) -> u32 {
    let n = plan.n();
    let groups = n.div_ceil(4);
    let trips = match &plan.market {
        Market::Gbm(gbm) => match &gbm.noise {
            GbmNoise::Cholesky(_) => 2 * groups + groups * (groups + 1) / 2,
            GbmNoise::Factor { loadings, .. } => {
                let factor_groups = loadings.ncols().div_ceil(4);
                groups + factor_groups + groups * (5 + 4 * factor_groups)
            }
        },
        // Normals, insertion sort (N, plus up to 6N shifts), the check, and the steps.
        // Shifts per step measured (examples/rank_sort_cost.rs, Atlas, daily steps):
        // 0.3 per stock at n = 100, 3.5 on average and 4.1 at most at n = 1,000, whose
        // bottom gaps are far narrower than a day's move. More is caught by the
        // sortedness check and reported, never returned.
        Market::Rank(_) => groups + 9 * n,
        Market::Vsm(_) => groups + n,
        // One pass over the stocks' groups: the day's changes and the continuation's.
        Market::Bootstrap(_) => groups,
    };
    trips as u32
}

impl MarketStage {
    /// The stage for `plan`; `unrolled`: straight-line code with the parameters as
    /// literals where the stage has such a form (the Cholesky step), for software
    /// adapters, which index arrays lane by lane.
    pub fn of(plan: &Plan, unrolled: bool) -> MarketStage {
        let n = plan.n();
        let groups = n.div_ceil(4);
        let dt = plan.dt();
        let no_drift = vec![0.0; n];
        match &plan.market {
            Market::Gbm(gbm) => match &gbm.noise {
                GbmNoise::Cholesky(_) => MarketStage {
                    source: if unrolled {
                        unrolled_cholesky(&gbm.packed_step_factor(dt), &gbm.step_drift(dt), n)
                    } else {
                        MARKET_CHOLESKY.to_string()
                    },
                    constants: Vec::new(),
                    data: cholesky_groups(&gbm.packed_step_factor(dt), n),
                    drift: gbm.step_drift(dt),
                    initial_state: Vec::new(),
                },
                GbmNoise::Factor { loadings, idiosyncratic_vol } => {
                    let factor_groups = loadings.ncols().div_ceil(4);
                    let mut data = Vec::with_capacity(4 * groups * factor_groups + groups);
                    for stock in 0..4 * groups {
                        for j in 0..factor_groups {
                            data.push(std::array::from_fn(|k| {
                                let factor = 4 * j + k;
                                if stock < n && factor < loadings.ncols() {
                                    (loadings[(stock, factor)] * dt.sqrt()) as f32
                                } else {
                                    0.0
                                }
                            }));
                        }
                    }
                    for b in 0..groups {
                        data.push(std::array::from_fn(|k| {
                            idiosyncratic_vol.get(4 * b + k).map_or(0.0, |s| (s * dt.sqrt()) as f32)
                        }));
                    }
                    MarketStage {
                        source: MARKET_FACTOR.to_string(),
                        constants: vec![
                            ("K4", format!("{factor_groups}u")),
                            ("IDIO_BASE", format!("{}u", 4 * groups * factor_groups)),
                        ],
                        data,
                        drift: gbm.step_drift(dt),
                        initial_state: Vec::new(),
                    }
                }
            },
            Market::Rank(rank) => {
                let kernel = rank.kernel::<f64>(dt);
                MarketStage {
                    source: MARKET_RANK.to_string(),
                    constants: Vec::new(),
                    data: (0..n).map(|k| [kernel.rank_drift[k] as f32, kernel.rank_vol[k] as f32, 0.0, 0.0]).collect(),
                    drift: no_drift,
                    initial_state: kernel.initial_order.iter().map(|&stock| stock as f64).collect(),
                }
            }
            Market::Vsm(vsm) => {
                let kernel = vsm.kernel::<f64>(dt);
                MarketStage {
                    source: MARKET_VSM.to_string(),
                    constants: vec![
                        ("VSM_DRIFT_SCALE", f32_literal(kernel.drift_scale)),
                        ("VSM_VOL_SCALE", f32_literal(kernel.vol_scale)),
                        ("VSM_WEIGHT_FLOOR", f32_literal(kernel.weight_floor)),
                    ],
                    data: vec![[0.0; 4]],
                    drift: no_drift,
                    initial_state: Vec::new(),
                }
            }
            Market::Bootstrap(bootstrap) => {
                let kernel = bootstrap.kernel::<f64>();
                let group = |values: &[f64], b: usize| -> [f32; 4] {
                    std::array::from_fn(|k| values.get(4 * b + k).map_or(0.0, |v| *v as f32))
                };
                let mut data = Vec::with_capacity((kernel.days as usize + 1) * groups);
                for day in kernel.log_changes.chunks_exact(n) {
                    data.extend((0..groups).map(|b| group(day, b)));
                }
                data.extend((0..groups).map(|b| group(&kernel.mean_change, b)));
                MarketStage {
                    source: MARKET_BOOTSTRAP.to_string(),
                    constants: vec![
                        ("BOOT_DAYS", format!("{}u", kernel.days)),
                        ("BOOT_JUMP_AT_MOST", format!("{}u", kernel.jump_at_most)),
                        ("BOOT_CONTINUE", f32_literal(kernel.continue_weight)),
                        ("BOOT_JUMP", f32_literal(kernel.jump_weight)),
                        ("STREAM_BOOTSTRAP", format!("{}u", crate::numeric::philox::STREAM_BOOTSTRAP)),
                    ],
                    data,
                    drift: no_drift,
                    // Any day: step 0 always jumps.
                    initial_state: vec![0.0],
                }
            }
        }
    }
}

/// The Cholesky factor (times sqrt(dt), packed by rows) in the kernel's layout: for each
/// group b of rows 4b .. 4b + 3 and each j <= b, vec4 j of those four rows (zero-padded).
fn cholesky_groups(packed: &[f64], n: usize) -> Vec<[f32; 4]> {
    let entry = |row: usize, column: usize| {
        if row < n && column <= row {
            packed[row * (row + 1) / 2 + column] as f32
        } else {
            0.0
        }
    };
    let mut vec4s = Vec::new();
    for group in 0..n.div_ceil(4) {
        for j in 0..=group {
            for row in 4 * group..4 * group + 4 {
                vec4s.push(std::array::from_fn(|k| entry(row, 4 * j + k)));
            }
        }
    }
    vec4s
}

/// The Cholesky stage with its loops unrolled and the factor and drift as literals: the
/// twin of shaders/market_cholesky.wgsl (the same sums in the same order, the noise
/// terms to `note_noise4`), without a memory read of the factor or a dynamically
/// indexed normal.
fn unrolled_cholesky(packed: &[f64], drift: &[f64], n: usize) -> String {
    let groups = n.div_ceil(4);
    let entry = |row: usize, column: usize| {
        if row < n && column <= row {
            packed[row * (row + 1) / 2 + column] as f32
        } else {
            0.0
        }
    };
    let literal =
        |values: [f32; 4]| format!("vec4<f32>({:?}, {:?}, {:?}, {:?})", values[0], values[1], values[2], values[3]);
    let mut out = String::from("fn market_log_steps(key: vec2<u32>, path: u32, step: u32) -> bool {\n");
    for b in 0..groups {
        out.push_str(&format!("    z[{b}] = drawn_normals4(key, path, step, {b}u, 0u);\n"));
    }
    out.push_str("    var ok = true;\n    var noise: vec4<f32>;\n");
    out.push_str("    var p0: vec4<f32>;\n    var p1: vec4<f32>;\n    var p2: vec4<f32>;\n    var p3: vec4<f32>;\n");
    for b in (0..groups).rev() {
        out.push_str(
            "    p0 = vec4<f32>(0.0);\n    p1 = vec4<f32>(0.0);\n    p2 = vec4<f32>(0.0);\n    p3 = vec4<f32>(0.0);\n",
        );
        for j in 0..=b {
            for r in 0..4 {
                let row = 4 * b + r;
                let values = std::array::from_fn(|k| entry(row, 4 * j + k));
                out.push_str(&format!("    p{r} = fma(z[{j}], {}, p{r});\n", literal(values)));
            }
        }
        let d = std::array::from_fn(|k| drift.get(4 * b + k).map_or(0.0, |v| *v as f32));
        out.push_str(&format!(
            "    noise = vec4<f32>((p0.x + p0.y) + (p0.z + p0.w), (p1.x + p1.y) + (p1.z + p1.w), (p2.x + p2.y) + (p2.z + p2.w), (p3.x + p3.y) + (p3.z + p3.w));\n    ok = note_noise4({b}u, noise) && ok;\n    z[{b}] = noise + {};\n",
            literal(d)
        ));
    }
    out.push_str("    return ok;\n}\n");
    out
}
