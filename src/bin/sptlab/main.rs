//! The `sptlab` command line: parse the arguments, check them into a configuration,
//! dispatch to the subcommand, and map its outcome to an exit status (0; 2 for bad
//! input; 1 for any other failure; 141 for a closed stdout).

use std::process::ExitCode;

use clap::Parser;

mod args;
mod backends;
mod backtest;
mod bench;
mod calibrate;
mod checks;
mod config;
mod failure;
mod info;
mod merge;
mod progress;
mod reproduce;
mod resume;
mod run;

use args::{Cli, Command};
use config::{RunConfig, RunMode};
use failure::{note, Failure};

fn main() -> ExitCode {
    // Output piped into `head` and closed early ends the process quietly, as with other
    // Unix tools, rather than panicking in println!.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A write past a file-size limit (RLIMIT_FSIZE) fails with an error sptlab
    // reports and cleans up after, instead of killing the process.
    #[cfg(unix)]
    // SAFETY: as above.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    quiet_mesa_probe();
    // RUST_LOG=sptlab=info (or =debug, or wgpu=warn, ...) shows what the run is doing.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("off")).init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => RunConfig::from_args(args).and_then(|config| run_mode(&config)),
        Command::Example { name } => info::example(&name),
        Command::Info => info::info(),
        Command::Bench(args) => bench::bench(args),
        Command::Calibrate(args) => calibrate::calibrate(args),
        Command::Merge(args) => merge::merge(args),
        Command::Backtest(args) => backtest::backtest(args),
    };
    let outcome = outcome.and_then(|()| {
        use std::io::Write as _;
        std::io::stdout().flush().map_err(Failure::Stdout)
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(message)) => {
            // One problem per line, each its own "error:" line.
            for line in message.lines() {
                note!("error: {line}");
            }
            ExitCode::from(2)
        }
        Err(Failure::Other(error)) => {
            note!("error: {error:#}");
            ExitCode::from(1)
        }
        Err(Failure::Stdout(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(141),
        Err(Failure::Stdout(error)) => {
            note!("error: writing to standard output: {error}");
            ExitCode::from(1)
        }
    }
}

/// Mesa's drivers print "XDG_RUNTIME_DIR is invalid or not set" when probed without
/// one (any headless machine), though nothing is wrong: give the process a private
/// one first. Called before any thread starts.
fn quiet_mesa_probe() {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|dir| std::path::Path::new(&dir).is_dir()) {
            return;
        }
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        let dir = std::env::temp_dir().join(format!("sptlab-runtime-{uid}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        // Only a directory of this user's that no one else can enter (as the spec asks).
        let private = std::fs::symlink_metadata(&dir)
            .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.permissions().mode() & 0o077 == 0);
        if private {
            // SAFETY: no other thread exists yet (called first thing in main).
            std::env::set_var("XDG_RUNTIME_DIR", &dir);
        }
    }
}

/// `sptlab run` in its three forms.
fn run_mode(config: &RunConfig) -> Result<(), Failure> {
    match &config.mode {
        RunMode::Fresh { plan, source, shard, history } => run::fresh(config, plan, source, *shard, history.clone()),
        RunMode::Resume(out) => resume::resume(out, config),
        RunMode::Reproduce(summary) => reproduce::reproduce(summary, config),
    }
}
