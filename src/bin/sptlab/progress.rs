//! The progress bar of a run: on stderr, and only once the run has lasted a second.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    pub bar: ProgressBar,
    started: Instant,
    shown: AtomicBool,
    quiet: bool,
}

impl Progress {
    /// A hidden bar over `paths` paths of `stocks` x `steps` asset-steps each.
    pub fn new(paths: u64, stocks: usize, steps: u32, quiet: bool) -> Progress {
        let asset_steps_per_path = stocks as f64 * steps as f64;
        let bar = ProgressBar::with_draw_target(Some(paths), ProgressDrawTarget::hidden()).with_style(
            ProgressStyle::with_template(
                "{spinner} {wide_bar} {pos}/{len} paths, {asset_steps} asset-steps/s, {elapsed} elapsed, eta {eta}",
            )
            .expect("the progress template is valid")
            .with_key(
                "asset_steps",
                move |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                    let _ = write!(out, "{:.0} M", state.per_sec() * asset_steps_per_path / 1e6);
                },
            ),
        );
        Progress { bar, started: Instant::now(), shown: AtomicBool::new(false), quiet }
    }

    /// `paths` more paths finished; shows the bar once a second has passed.
    pub fn advance(&self, paths: u64) {
        self.bar.inc(paths);
        if !self.quiet && self.started.elapsed().as_secs_f64() > 1.0 && !self.shown.swap(true, Ordering::Relaxed) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
}
