//! Which SIMD compilation of the CPU kernel runs on this machine.

/// A compilation of the CPU kernel. The two SIMD ones give bit-identical results:
/// the same operations with FMA, only the vector width differs (a block's 16 f32 lanes
/// are one AVX-512 register, two AVX2 ones); the baseline rounds products separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Avx512,
    Avx2Fma,
    Baseline,
}

impl Flavour {
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Avx512 => "AVX-512",
            Flavour::Avx2Fma => "AVX2+FMA",
            Flavour::Baseline => "baseline",
        }
    }

    fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2_fma = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
            match self {
                Flavour::Avx512 => {
                    avx2_fma
                        && std::is_x86_feature_detected!("avx512f")
                        && std::is_x86_feature_detected!("avx512vl")
                        && std::is_x86_feature_detected!("avx512bw")
                        && std::is_x86_feature_detected!("avx512dq")
                }
                Flavour::Avx2Fma => avx2_fma,
                Flavour::Baseline => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Flavour::Baseline
        }
    }
}

/// The environment variable that picks a kernel compilation (`avx512`, `avx2` or
/// `baseline`) for comparisons; a flavour the CPU lacks is ignored.
pub const FLAVOUR_VARIABLE: &str = "SPTLAB_CPU_KERNEL";

/// The compilation of the kernel this process runs: AVX-512 where the CPU has it and
/// the crate was built with LLVM's no-gather tuning (.cargo/config.toml; without it the
/// AVX-512 kernel measured slower than the AVX2 one), else AVX2+FMA, else the baseline,
/// unless `SPTLAB_CPU_KERNEL` names another the CPU supports.
pub fn flavour() -> Flavour {
    static CHOSEN: std::sync::OnceLock<Flavour> = std::sync::OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let asked = match std::env::var(FLAVOUR_VARIABLE).as_deref() {
            Ok("avx512") => Some(Flavour::Avx512),
            Ok("avx2") => Some(Flavour::Avx2Fma),
            Ok("baseline") => Some(Flavour::Baseline),
            _ => None,
        };
        asked.filter(|f| f.supported()).unwrap_or_else(|| {
            let preferred: &[Flavour] =
                if cfg!(sptlab_prefer_no_gather) { &[Flavour::Avx512, Flavour::Avx2Fma] } else { &[Flavour::Avx2Fma] };
            preferred.iter().copied().find(|f| f.supported()).unwrap_or(Flavour::Baseline)
        })
    })
}

/// The name of [`flavour`], for reports.
pub fn kernel_flavour() -> &'static str {
    flavour().name()
}
