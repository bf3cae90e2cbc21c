//! `paths.parquet`: every path's statistics, the columns and rows of `paths.csv` (one row
//! per path and strategy, plus the market's row per path), for pandas, polars, pyarrow
//! and the other tools that read Parquet. Written with the `parquet` crate's column
//! writers (no Arrow), uncompressed, in row groups of bounded size.

use std::sync::Arc;

use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use crate::summary::results::Results;

/// The schema: `paths.csv`'s columns; the generating and drift terms are null for
/// strategies that are not functionally generated (empty fields in the CSV).
const SCHEMA: &str = "message paths {
    REQUIRED INT64 path;
    REQUIRED BYTE_ARRAY strategy (UTF8);
    REQUIRED DOUBLE log_return;
    REQUIRED DOUBLE relative_log_return;
    REQUIRED DOUBLE excess_return;
    REQUIRED DOUBLE tracking_error;
    REQUIRED DOUBLE information_ratio;
    REQUIRED DOUBLE max_relative_drawdown;
    REQUIRED DOUBLE turnover;
    OPTIONAL DOUBLE generating_term;
    OPTIONAL DOUBLE drift_term;
    REQUIRED DOUBLE cost_term;
}";

/// Paths per row group (each path gives one row per strategy and one for the market).
const ROW_GROUP_PATHS: usize = 1 << 18;

/// One row group's columns.
#[derive(Default)]
struct Columns {
    path: Vec<i64>,
    strategy: Vec<ByteArray>,
    /// log_return .. turnover, then cost_term.
    required: [Vec<f64>; 8],
    /// generating_term, drift_term: values and definition levels (1 present, 0 null).
    optional: [(Vec<f64>, Vec<i16>); 2],
}

impl Columns {
    fn push(&mut self, path: i64, strategy: &str, required: [f64; 8], optional: Option<[f64; 2]>) {
        self.path.push(path);
        self.strategy.push(ByteArray::from(strategy));
        for (column, value) in self.required.iter_mut().zip(required) {
            column.push(value);
        }
        for (index, (values, levels)) in self.optional.iter_mut().enumerate() {
            match optional {
                Some(terms) => {
                    values.push(terms[index]);
                    levels.push(1);
                }
                None => levels.push(0),
            }
        }
    }
}

/// The bytes of `paths.parquet` for `results`.
pub fn paths_parquet(results: &Results) -> Result<Vec<u8>, ParquetError> {
    let schema = Arc::new(parse_message_type(SCHEMA)?);
    let properties =
        Arc::new(WriterProperties::builder().set_created_by(format!("sptlab {}", env!("CARGO_PKG_VERSION"))).build());
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, properties)?;
    let first_path = results.path_range.start as i64;
    for group_start in (0..results.paths()).step_by(ROW_GROUP_PATHS) {
        let mut columns = Columns::default();
        for path in group_start..(group_start + ROW_GROUP_PATHS).min(results.paths()) {
            let index = first_path + path as i64;
            let market = results.market_log_return[path];
            // As in paths.csv: the market's row has its log return and zeros.
            columns.push(index, "market", [market, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], Some([0.0, 0.0]));
            for (strategy, name) in results.strategy_names.iter().enumerate() {
                let s = &results.per_path[strategy][path];
                let required = [
                    s.log_return,
                    s.relative_log_return,
                    s.excess_return,
                    s.tracking_error,
                    s.information_ratio,
                    s.max_relative_drawdown,
                    s.turnover,
                    s.cost_term,
                ];
                let terms = results.functionally_generated[strategy].then_some([s.generating_term, s.drift_term]);
                columns.push(index, name, required, terms);
            }
        }
        let mut group = writer.next_row_group()?;
        let mut column_index = 0;
        while let Some(mut column) = group.next_column()? {
            match column_index {
                0 => column.typed::<Int64Type>().write_batch(&columns.path, None, None)?,
                1 => column.typed::<ByteArrayType>().write_batch(&columns.strategy, None, None)?,
                // log_return .. turnover
                2..=8 => column.typed::<DoubleType>().write_batch(&columns.required[column_index - 2], None, None)?,
                9 | 10 => {
                    let (values, levels) = &columns.optional[column_index - 9];
                    column.typed::<DoubleType>().write_batch(values, Some(levels), None)?
                }
                _ => column.typed::<DoubleType>().write_batch(&columns.required[7], None, None)?,
            };
            column.close()?;
            column_index += 1;
        }
        group.close()?;
    }
    writer.into_inner()
}
