//! Tells the crate whether it is compiled with the LLVM tuning flags of
//! .cargo/config.toml, without which its AVX-512 kernel is slower than the AVX2 one.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(sptlab_prefer_no_gather)");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if flags.contains("+prefer-no-gather") {
        println!("cargo::rustc-cfg=sptlab_prefer_no_gather");
    }
}
