//! Tells the crate whether it is compiled with the LLVM tuning flags of
//! .cargo/config.toml (without which its AVX-512 kernel is slower than the AVX2 one),
//! and the git commit it is built from, when there is one (summary.json's manifest).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(sptlab_prefer_no_gather)");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if flags.contains("+prefer-no-gather") {
        println!("cargo::rustc-cfg=sptlab_prefer_no_gather");
    }
    let commit = std::process::Command::new("git").args(["rev-parse", "HEAD"]).output();
    if let Some(output) = commit.ok().filter(|output| output.status.success()) {
        let commit = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            println!("cargo::rustc-env=SPTLAB_GIT_COMMIT={commit}");
        }
        // A new commit, or another branch, rebuilds with its hash.
        println!("cargo::rerun-if-changed=.git/HEAD");
        if let Some(reference) = std::fs::read_to_string(".git/HEAD")
            .ok()
            .and_then(|head| head.strip_prefix("ref: ").map(|reference| reference.trim().to_string()))
        {
            println!("cargo::rerun-if-changed=.git/{reference}");
        }
    }
}
