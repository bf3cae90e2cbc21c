//! A run's data files as `(file name, bytes)` for `OutDir::publish`, which writes them
//! as one set: `summary.json` and, when asked, every path's statistics.

use std::io;

use crate::output::per_path::{self, PerPathFormat};
use crate::summary::report::Report;
use crate::summary::results::Results;

/// `summary.json`, pretty-printed.
pub fn summary_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("reports contain only serialisable values")
}

/// `summary.json` and, with `per_path`, every path's statistics, as `(file name, bytes)`.
pub fn output_files(
    report: &Report,
    results: &Results,
    per_path: Option<PerPathFormat>,
) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut files = vec![("summary.json".to_string(), summary_json(report).into_bytes())];
    let rounding = results.rounding(report.run.backend.precision);
    match per_path {
        Some(PerPathFormat::Csv) => {
            files.push(("paths.csv".to_string(), per_path::paths_csv(results, &rounding).into_bytes()))
        }
        Some(PerPathFormat::Parquet) => files.push((
            "paths.parquet".to_string(),
            crate::output::paths_parquet::paths_parquet(results, &rounding).map_err(io::Error::other)?,
        )),
        None => {}
    }
    Ok(files)
}
