//! `paths.parquet`: every path's statistics, the columns and rows of `paths.csv` (one row
//! per path and strategy, plus the market's row per path), for pandas, polars, pyarrow
//! and the other tools that read Parquet. Written with the `parquet` crate's column
//! writers (no Arrow), uncompressed, in row groups of bounded size, to any writer: a
//! file is streamed, one row group in memory at a time.

use std::io::Write;
use std::sync::Arc;

use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use crate::output::per_path::{benchmark_rows, COLUMNS};
use crate::summary::compare::{INDEX, MARKET};
use crate::summary::results::Results;
use crate::summary::stats::Rounding;

/// Paths per row group (each path gives one row per strategy and one for the market).
const ROW_GROUP_PATHS: usize = 1 << 18;

/// Memory the encoders take beside a row group's columns (pages and dictionaries of a
/// megabyte or so per column, with room to spare): reserved and released before each
/// row group, so that a table that does not fit is an error, not an abort mid-write.
const ENCODER_HEADROOM: usize = 64 << 20;

/// The schema: the columns of `per_path.rs`, those not defined on every row optional.
fn schema() -> String {
    let mut schema =
        "message paths {\n    REQUIRED INT64 path;\n    REQUIRED BYTE_ARRAY strategy (UTF8);\n".to_string();
    for column in &COLUMNS {
        let repetition = if column.optional() { "OPTIONAL" } else { "REQUIRED" };
        schema.push_str(&format!("    {repetition} DOUBLE {};\n", column.name));
    }
    schema.push('}');
    schema
}

/// Why the table could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PathsTableError {
    /// A row group's columns did not fit in memory (reported, not aborted on).
    #[error("not enough memory for a row group of the per-path table ({rows} rows)")]
    OutOfMemory { rows: usize },
    #[error(transparent)]
    Parquet(#[from] ParquetError),
}

/// One row group's columns.
#[derive(Default)]
struct RowGroup {
    path: Vec<i64>,
    strategy: Vec<ByteArray>,
    /// Per value column: the values present and, for an optional column, the
    /// definition levels (1 present, 0 null).
    values: [Vec<f64>; COLUMNS.len()],
    levels: [Vec<i16>; COLUMNS.len()],
}

impl RowGroup {
    /// Room for `rows` rows, or the error that says there is not enough memory for them
    /// and the encoders.
    fn with_capacity(rows: usize) -> Result<RowGroup, PathsTableError> {
        let out_of_memory = |_| PathsTableError::OutOfMemory { rows };
        Vec::<u8>::new().try_reserve_exact(ENCODER_HEADROOM).map_err(out_of_memory)?;
        let mut group = RowGroup::default();
        group.path.try_reserve_exact(rows).map_err(out_of_memory)?;
        group.strategy.try_reserve_exact(rows).map_err(out_of_memory)?;
        for (index, column) in COLUMNS.iter().enumerate() {
            group.values[index].try_reserve_exact(rows).map_err(out_of_memory)?;
            if column.optional() {
                group.levels[index].try_reserve_exact(rows).map_err(out_of_memory)?;
            }
        }
        Ok(group)
    }

    /// A row; `value(index)` is the value of column `index`, `None` for null. The
    /// strategy's name is shared, not copied, by its rows.
    fn push(&mut self, path: i64, strategy: &ByteArray, value: impl Fn(usize) -> Option<f64>) {
        self.path.push(path);
        self.strategy.push(strategy.clone());
        for (index, column) in COLUMNS.iter().enumerate() {
            let present = value(index);
            if let Some(present) = present {
                self.values[index].push(present);
            }
            if column.optional() {
                self.levels[index].push(i16::from(present.is_some()));
            }
        }
    }
}

/// The bytes of `paths.parquet` for `results`, computed with `rounding`.
pub fn paths_parquet(results: &Results, rounding: &Rounding) -> Result<Vec<u8>, PathsTableError> {
    write_paths_parquet(results, rounding, Vec::new())
}

/// `paths.parquet` for `results`, computed with `rounding`, written to `out` (returned).
pub fn write_paths_parquet<W: Write + Send>(
    results: &Results,
    rounding: &Rounding,
    out: W,
) -> Result<W, PathsTableError> {
    let schema = Arc::new(parse_message_type(&schema())?);
    let properties =
        Arc::new(WriterProperties::builder().set_created_by(format!("sptlab {}", env!("CARGO_PKG_VERSION"))).build());
    let mut writer = SerializedFileWriter::new(out, schema, properties)?;
    let first_path = results.path_range.start as i64;
    let benchmark_names = [ByteArray::from(MARKET), ByteArray::from(INDEX)];
    let names: Vec<ByteArray> = results.strategy_names.iter().map(|name| ByteArray::from(name.as_str())).collect();
    for group_start in (0..results.paths()).step_by(ROW_GROUP_PATHS) {
        let group_end = (group_start + ROW_GROUP_PATHS).min(results.paths());
        let benchmarks = 1 + usize::from(results.index.is_some());
        let mut rows =
            RowGroup::with_capacity((group_end - group_start) * (results.strategy_names.len() + benchmarks))?;
        for path in group_start..group_end {
            let index = first_path + path as i64;
            for ((_, benchmark), name) in benchmark_rows(results, path).zip(&benchmark_names) {
                rows.push(index, name, |column| {
                    let column = &COLUMNS[column];
                    column.market_value(benchmark).filter(|_| column.defined(results, true))
                });
            }
            for ((name, per_path), &generated) in
                names.iter().zip(&results.per_path).zip(&results.functionally_generated)
            {
                let statistics = &per_path[path];
                rows.push(index, name, |column| {
                    let column = &COLUMNS[column];
                    column.value_on(statistics, rounding).filter(|_| column.defined(results, generated))
                });
            }
        }
        let mut group = writer.next_row_group()?;
        let mut column_index = 0;
        while let Some(mut column) = group.next_column()? {
            match column_index {
                0 => column.typed::<Int64Type>().write_batch(&rows.path, None, None)?,
                1 => column.typed::<ByteArrayType>().write_batch(&rows.strategy, None, None)?,
                value_column => {
                    let index = value_column - 2;
                    let levels = COLUMNS[index].optional().then_some(rows.levels[index].as_slice());
                    column.typed::<DoubleType>().write_batch(&rows.values[index], levels, None)?
                }
            };
            column.close()?;
            column_index += 1;
        }
        group.close()?;
    }
    Ok(writer.into_inner()?)
}
