//! How a command fails: bad input (exit status 2: the message names the file, the
//! field and the reason, and nothing was written) or anything else (exit status 1).
//! And the macros that print, so that a full or closed stdout is an error, not a panic.

use sptlab::output::out_dir::OutDirError;

/// Errors sorted by exit status: 2 for bad input, 1 for everything else (141 for a
/// closed stdout, as a shell reports a process ended by SIGPIPE).
pub enum Failure {
    /// One problem per line.
    BadInput(String),
    Other(anyhow::Error),
    /// Standard output could not be written.
    Stdout(std::io::Error),
}

impl Failure {
    /// Bad input made of several problems, one per line.
    pub fn bad_input(problems: &[String]) -> Failure {
        Failure::BadInput(problems.join("\n"))
    }
}

impl From<OutDirError> for Failure {
    fn from(error: OutDirError) -> Failure {
        match error {
            OutDirError::Refused(reason) => Failure::BadInput(reason),
            error => Failure::Other(error.into()),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure::Other(error)
    }
}

/// Prints to stdout; a write that fails (a full disk, say) ends the command with
/// that error instead of a panic. Only in functions returning `Result<_, Failure>`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        std::io::stdout().lock().write_fmt(format_args!($($arg)*)).map_err($crate::failure::Failure::Stdout)?
    }};
}

macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::failure::Failure::Stdout)?
    }};
}

/// A line on stderr; if stderr itself cannot be written there is nowhere to say so.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub(crate) use {note, out, outln};
