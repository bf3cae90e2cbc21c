//! The whole set of files a finished run writes (`run --out`, `merge`, Python's
//! `Result.save`): summary.json, the per-path file when asked, the figures (PNG too
//! when asked) and report.html, as `(file name, bytes)` for `OutDir::publish`.

use crate::output::data_files;
use crate::output::per_path::PerPathFormat;
use crate::output::plots;
use crate::scenario::Plan;
use crate::summary::report::Report;
use crate::summary::results::Results;

/// Why the files could not be made (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum RunFilesError {
    #[error(transparent)]
    Data(std::io::Error),
    /// The figures: plotters' reason.
    #[error("{0}")]
    Figures(String),
}

/// Every file of a finished run; publish them with summary.json last.
pub fn run_files(
    (plan, report, results): (&Plan, &Report, &Results),
    per_path: Option<PerPathFormat>,
    png: bool,
) -> Result<Vec<(String, Vec<u8>)>, RunFilesError> {
    let mut files = data_files::output_files(report, results, per_path).map_err(RunFilesError::Data)?;
    files.extend(plots::figure_files(plan, report, results, png).map_err(RunFilesError::Figures)?);
    Ok(files)
}
