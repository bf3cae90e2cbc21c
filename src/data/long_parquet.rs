//! A long file in Parquet (issue 32), as pandas and pyarrow write it (snappy-compressed
//! or not): its rows handed to the long reader as text cells, so that every check and
//! message is the CSV reader's. Dates may be strings, CRSP's YYYYMMDD integers, dates,
//! or timestamps (pandas' datetime64[ns] included); a NaN is a missing value, as pandas
//! writes one.

use std::fs::File;
use std::path::Path;

use parquet::basic::{LogicalType, TimeUnit};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::reader::RowIter;
use parquet::record::Field;

use super::format_date;

/// A Parquet file's rows as text records.
pub(super) type Rows = Box<dyn Iterator<Item = Result<csv::StringRecord, String>>>;

const MILLIS_A_DAY: i64 = 86_400_000;

/// The column names of the Parquet file at `path`, and its rows in order.
pub(super) fn rows(path: &Path) -> Result<(Vec<String>, Rows), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let reader = SerializedFileReader::new(file).map_err(|e| e.to_string())?;
    let mut names = Vec::new();
    // Timestamps in nanoseconds come as plain integers: their columns, marked.
    let mut nanoseconds = Vec::new();
    for field in reader.metadata().file_metadata().schema_descr().root_schema().get_fields() {
        if !field.is_primitive() {
            return Err(format!("its column {} is nested; a long file's columns hold plain values", field.name()));
        }
        names.push(field.name().to_string());
        let unit = match field.get_basic_info().logical_type_ref() {
            Some(LogicalType::Timestamp { unit, .. }) => Some(unit),
            _ => None,
        };
        nanoseconds.push(matches!(unit, Some(TimeUnit::NANOS)));
    }
    let rows = RowIter::from_file_into(Box::new(reader)).map(move |row| {
        let row = row.map_err(|e| e.to_string())?;
        let cells: Vec<String> =
            row.get_column_iter().zip(&nanoseconds).map(|((_, field), nanos)| text(field, *nanos)).collect();
        Ok(csv::StringRecord::from(cells))
    });
    Ok((names, Box::new(rows)))
}

/// A cell as the CSV reader would see it (a date as YYYY-MM-DD, a NaN as empty).
fn text(field: &Field, nanoseconds: bool) -> String {
    match field {
        Field::Null => String::new(),
        Field::Long(value) if nanoseconds => format_date(value.div_euclid(MILLIS_A_DAY * 1_000_000)),
        Field::Float(value) if value.is_nan() => String::new(),
        Field::Double(value) if value.is_nan() => String::new(),
        Field::Float(value) => value.to_string(),
        Field::Double(value) => value.to_string(),
        Field::Str(text) => text.clone(),
        Field::Bytes(bytes) => String::from_utf8_lossy(bytes.data()).into_owned(),
        Field::Date(days) => format_date(i64::from(*days)),
        Field::TimestampMillis(millis) => format_date(millis.div_euclid(MILLIS_A_DAY)),
        Field::TimestampMicros(micros) => format_date(micros.div_euclid(MILLIS_A_DAY * 1_000)),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parquet::basic::Compression;
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    use super::*;

    #[test]
    fn nanosecond_timestamps_nans_and_snappy_pages_read_as_the_csv_reader_sees_them() {
        // As pandas before 3.0 writes a DataFrame: datetime64[ns] dates, a NaN for a missing return.
        let schema = "message frame { required int64 date (TIMESTAMP(NANOS, false)); required binary id (UTF8); \
                      required double cap; required double return; }";
        let path = std::env::temp_dir().join(format!("sptlab-nanos-{}.parquet", std::process::id()));
        let properties = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
        let file = File::create(&path).unwrap();
        let mut writer =
            SerializedFileWriter::new(file, Arc::new(parse_message_type(schema).unwrap()), properties).unwrap();
        let mut group = writer.next_row_group().unwrap();
        // 2021-01-04 and 2021-01-05 (18631 and 18632 days), in nanoseconds.
        let day = 86_400_000_000_000i64;
        let dates = [18_631 * day, 18_632 * day + 3_600_000_000_000];
        let ids = [ByteArray::from("10001"), ByteArray::from("10001")];
        let mut column = 0;
        while let Some(mut writer) = group.next_column().unwrap() {
            match column {
                0 => writer.typed::<Int64Type>().write_batch(&dates, None, None).unwrap(),
                1 => writer.typed::<ByteArrayType>().write_batch(&ids, None, None).unwrap(),
                2 => writer.typed::<DoubleType>().write_batch(&[50.0, 50.5], None, None).unwrap(),
                _ => writer.typed::<DoubleType>().write_batch(&[f64::NAN, 0.01], None, None).unwrap(),
            };
            writer.close().unwrap();
            column += 1;
        }
        group.close().unwrap();
        writer.close().unwrap();
        let (names, rows) = rows(&path).unwrap();
        let rows: Vec<Vec<String>> = rows.map(|row| row.unwrap().iter().map(str::to_string).collect()).collect();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(names, ["date", "id", "cap", "return"]);
        assert_eq!(rows, [["2021-01-04", "10001", "50", ""], ["2021-01-05", "10001", "50.5", "0.01"]]);
    }
}
