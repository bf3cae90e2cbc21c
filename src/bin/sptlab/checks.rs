//! A check more than one subcommand makes before any work: whether a single output
//! file can be written.

/// A single file the command will write (`calibrate --out`, `bench --json`), checked
/// before any work: a regular file or nothing yet, in a folder that exists.
pub fn output_file_problem(option: &str, path: &std::path::Path) -> Option<String> {
    sptlab::files::output_file(path).err().map(|reason| format!("{option} {}: {reason}", path.display()))
}
