//! Criterion benchmarks of the CPU kernels one at a time, on one block of `LANES` paths
//! of the standard workload (100 stocks), so a regression shows per kernel. Throughput
//! is in asset-steps (stocks x lanes per call): compare with `sptlab bench`'s whole runs.
//!
//! * philox: Philox4x32-10 words for 100 stocks (25 calls of 4 words per lane);
//! * normals: the words turned into standard normals (Box-Muller), as a step draws them;
//! * correlation: the triangular Cholesky product of one step (normals included);
//! * weights: equal and diversity(0.5) target weights from the market weights;
//! * returns: holdings grown by a step's gross returns and summed (the per-step
//!   reduction of every strategy), with the market's own update of mu.
//!
//! Each kernel runs as the engine runs it: inlined into a function compiled for the
//! engine's kernel flavour on this machine (AVX-512, AVX2 + FMA, or the baseline).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sptlab::market::gbm::cholesky_log_steps;
use sptlab::market::gbm::CholeskyKernel;
use sptlab::market::{fill_normals, Draws, Market, MarketKernel};
use sptlab::numeric::lanes::{Lanes, LANES};
use sptlab::portfolio::{target_weights, KernelWeighting, Weighting};
use sptlab::scenario::standard_workload;

type Block = Lanes<f32, LANES>;

/// Declares `$name(args)`: the kernel call `$body` compiled as the engine compiles its
/// kernel on this machine (`sptlab::numeric::simd::flavour()`: AVX-512 or AVX2 + FMA with fused
/// multiply-adds, else the baseline; the kernels are `#[inline(always)]`, so they are
/// compiled into these functions as into `PathBlock::advance_paths_*`).
macro_rules! flavoured {
    ($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty, |$fused:ident| $body:expr) => {
        fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($arg: $ty),*) -> $ret {
                const $fused: bool = true;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")]
            unsafe fn avx512($($arg: $ty),*) -> $ret {
                const $fused: bool = true;
                $body
            }
            match sptlab::numeric::simd::flavour() {
                // SAFETY: `flavour` only returns what the CPU supports.
                #[cfg(target_arch = "x86_64")]
                sptlab::numeric::simd::Flavour::Avx512 => return unsafe { avx512($($arg),*) },
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                sptlab::numeric::simd::Flavour::Avx2Fma => return unsafe { avx2($($arg),*) },
                _ => {}
            }
            #[allow(non_upper_case_globals)]
            const $fused: bool = false;
            $body
        }
    };
}

flavoured!(philox_words(paths: &[u32; LANES], n: usize, key: [u32; 2]) -> [u32; LANES], |FUSED| {
    let _ = FUSED;
    let mut acc = [0u32; LANES];
    for block in 0..n.div_ceil(4) as u32 {
        let counters = [*paths, [black_box(3); LANES], [block; LANES], [0; LANES]];
        let words = sptlab::numeric::philox::philox4x32_10_simd(counters, key);
        for lane in 0..LANES {
            acc[lane] ^= words[0][lane] ^ words[3][lane];
        }
    }
    acc
});

flavoured!(normals(draws: &Draws<f32, LANES>, key: [u32; 2], out: &mut [Block]) -> (), |FUSED| {
    fill_normals::<f32, LANES, FUSED>(key, draws, black_box(3), 0, out)
});

flavoured!(correlation(kernel: &CholeskyKernel<f32>, draws: &Draws<f32, LANES>, key: [u32; 2], out: &mut [Block], noise: &mut [Block]) -> (), |FUSED| {
    cholesky_log_steps::<f32, LANES, FUSED>(kernel, key, draws, black_box(3), out, noise)
});

flavoured!(weights(kernel: &KernelWeighting<f32>, mu: &[Block], log_mu: &[Block], target: &mut [Block]) -> Block, |FUSED| {
    target_weights::<f32, LANES, FUSED>(kernel, mu, log_mu, target)
});

flavoured!(returns(holdings: &mut [Block], market: &mut [Block], growth: &[Block]) -> Block, |FUSED| {
    let _ = FUSED;
    let (mut value, mut market_gross) = (Block::zero(), Block::zero());
    for ((holding, weight), g) in holdings.iter_mut().zip(market.iter()).zip(growth) {
        *holding = *holding * *g;
        value = value + *holding;
        market_gross = market_gross + *weight * *g;
    }
    let inverse = market_gross.recip();
    for (weight, g) in market.iter_mut().zip(growth) {
        *weight = *weight * *g * inverse;
    }
    value
});

fn kernels(c: &mut Criterion) {
    let plan = standard_workload(LANES as u64).validate().expect("the standard workload is valid");
    let n = plan.n();
    let paths: [u32; LANES] = std::array::from_fn(|lane| lane as u32);
    let key = [7, 0];
    let mut group = c.benchmark_group("kernels");
    group.throughput(Throughput::Elements((n * LANES) as u64));

    group.bench_function("philox (100 stocks x 16 lanes)", |b| b.iter(|| philox_words(&paths, n, key)));

    let mut out = vec![Block::zero(); n];
    // The engine's draws of paths 0..16 (each its own normals; the noise terms too, as
    // the control variate needs them).
    let draws = Draws::of(&paths, false);
    let mut noise = vec![Block::zero(); n];
    group.bench_function("normals (100 stocks x 16 lanes)", |b| b.iter(|| normals(&draws, key, &mut out)));

    let Market::Gbm(gbm) = &plan.market else { unreachable!("the standard workload is GBM") };
    let MarketKernel::Cholesky(cholesky) = gbm.kernel::<f32>(plan.dt()) else { unreachable!("full Cholesky") };
    group.bench_function("correlation step incl. normals (100 stocks x 16 lanes)", |b| {
        b.iter(|| correlation(&cholesky, &draws, key, &mut out, &mut noise))
    });

    let mu0 = plan.market.initial_weights();
    let mut mu: Vec<Block> = mu0.iter().map(|m| Lanes([*m as f32; LANES])).collect();
    let log_mu: Vec<Block> = mu0.iter().map(|m| Lanes([m.ln() as f32; LANES])).collect();
    let mut target = vec![Block::zero(); n];
    for (name, weighting) in [("equal", Weighting::Equal), ("diversity 0.5", Weighting::Diversity { p: 0.5 })] {
        let kernel = weighting.in_precision::<f32>(n);
        group.bench_function(format!("weights {name} (100 stocks x 16 lanes)"), |b| {
            b.iter(|| weights(&kernel, black_box(&mu), &log_mu, &mut target))
        });
    }

    let growth: Vec<Block> = (0..n).map(|i| Lanes([1.0 + 1e-3 * (i as f32 - 50.0) / 50.0; LANES])).collect();
    let mut holdings = mu.clone();
    group.bench_function("returns and reductions (100 stocks x 16 lanes)", |b| {
        b.iter(|| returns(&mut holdings, &mut mu, black_box(&growth)))
    });
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
