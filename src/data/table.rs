//! Reading a wide daily CSV (`Date,TICKER1,TICKER2,...`, one row per day, oldest
//! first) of prices or market caps, with every problem reported by line and column.

use std::io::{self, Read};
use std::path::Path;

use super::{DataError, Rows};

/// A validated table of positive values, one row per date, restricted to a window.
#[derive(Debug, Clone)]
pub struct Table {
    pub tickers: Vec<String>,
    /// ISO dates (YYYY-MM-DD), strictly increasing.
    pub dates: Vec<String>,
    /// Days since 1970-01-01 of each date.
    pub days: Vec<i64>,
    /// `values[row][stock]`, all finite and positive.
    pub values: Rows,
    /// SHA-256 of the whole file, hex (provenance: a run records the data it saw).
    pub sha256: String,
    /// The complete rows just before the window, oldest first (for estimates that warm
    /// up on earlier data); stops at the first row with a missing value.
    pub earlier: Rows,
    /// The whole file's dated rows, whatever the window (its frequency).
    pub file_span: Span,
}

/// The dates of some rows: how many, from which day to which.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub rows: usize,
    pub first_day: i64,
    pub last_day: i64,
}

/// Fewest calendar days over which rows a year are counted: over a quarter, daily
/// data's weekends and holidays move the count by under 2 %; over a few days, by 40 %.
pub const MIN_FREQUENCY_DAYS: i64 = 90;

/// How often a file has a row, measured over a span of at least [`MIN_FREQUENCY_DAYS`].
#[derive(Debug, Clone, PartialEq)]
pub struct Frequency {
    pub rows_per_year: f64,
    pub from: String,
    pub to: String,
}

impl std::fmt::Display for Frequency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} rows a year ({} to {})", self.rows_per_year, self.from, self.to)
    }
}

impl Span {
    fn of(days: &[i64]) -> Span {
        Span { rows: days.len(), first_day: days[0], last_day: days[days.len() - 1] }
    }

    /// Rows a year over the span, when it is long enough to say.
    fn frequency(&self) -> Option<Frequency> {
        let days = self.last_day - self.first_day;
        (days >= MIN_FREQUENCY_DAYS).then(|| Frequency {
            rows_per_year: (self.rows - 1) as f64 / (days as f64 / 365.25),
            from: format_date(self.first_day),
            to: format_date(self.last_day),
        })
    }
}

/// What a report records of the data it used: where, which bytes, which rows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DataRecord {
    pub path: String,
    pub sha256: String,
    /// "prices" (shares held constant: the market is buy-and-hold) or "caps".
    pub values: String,
    pub tickers: Vec<String>,
    pub from: String,
    pub to: String,
    pub rows: usize,
    pub periods_per_year: f64,
}

/// One end of a window: a date as given, and the option or field that gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    pub field: String,
    pub date: String,
}

/// Which rows of a file to use: from `from` to `to` (both included, each the whole
/// file's end when absent), then only the last `last_years` years of that.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    pub from: Option<Bound>,
    pub to: Option<Bound>,
    pub last_years: Option<f64>,
}

impl Window {
    pub fn all() -> Window {
        Window::default()
    }

    pub fn last_years(years: Option<f64>) -> Window {
        Window { last_years: years, ..Window::default() }
    }
}

impl Bound {
    pub fn new(field: impl Into<String>, date: impl Into<String>) -> Bound {
        Bound { field: field.into(), date: date.into() }
    }

    /// The date as days since 1970-01-01, or why it is not a date.
    pub fn day(&self) -> Result<i64, DataError> {
        parse_date(&self.date)
            .ok_or_else(|| DataError::new(&self.field, format!("`{}` is not a date of the form YYYY-MM-DD", self.date)))
    }
}

/// ln(b / a) of positive finite values, also where b / a itself overflows or
/// underflows (1e300 / 1e-300), so that such data is located, not turned into infinity.
pub fn log_ratio(b: f64, a: f64) -> f64 {
    let ratio = b / a;
    if ratio.is_normal() {
        ratio.ln()
    } else {
        b.ln() - a.ln()
    }
}

/// The log changes between consecutive rows, `changes[t][stock] = ln(rows[t + 1] / rows[t])`.
pub fn log_changes(rows: &[&[f64]]) -> Rows {
    let mut changes = Rows::new(rows.first().map_or(0, |row| row.len()));
    let mut change = Vec::with_capacity(changes.width());
    for pair in rows.windows(2) {
        change.clear();
        change.extend(pair[1].iter().zip(pair[0]).map(|(&b, &a)| log_ratio(b, a)));
        changes.push(&change);
    }
    changes
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The `YYYY-MM-DD` of days since 1970-01-01: [`days_from_civil`] inverted (Howard
/// Hinnant's algorithm), so that `parse_date(&format_date(day)) == Some(day)`.
pub fn format_date(days: i64) -> String {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Parses `YYYY-MM-DD` into days since 1970-01-01.
pub fn parse_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[month as usize - 1] {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

impl Window {
    /// The rows `first..end` of a file with `dates` (as days: `days`) that the window keeps.
    fn rows(&self, file: &str, days: &[i64]) -> Result<(usize, usize), DataError> {
        let (Some(&first_day), Some(&last_day)) = (days.first(), days.last()) else {
            return Err(DataError::new(file, "has no rows"));
        };
        // Names the file the date is not in: the data, or (for --benchmark) the index.
        let span = format!("{file}, which runs from {} to {}", format_date(first_day), format_date(last_day));
        let mut first = 0;
        let mut end = days.len();
        if let Some(from) = &self.from {
            let day = from.day()?;
            if day < first_day || day > last_day {
                return Err(DataError::new(&from.field, format!("{} is outside {span}", from.date)));
            }
            first = days.partition_point(|&d| d < day);
        }
        if let Some(to) = &self.to {
            let day = to.day()?;
            if day < first_day || day > last_day {
                return Err(DataError::new(&to.field, format!("{} is outside {span}", to.date)));
            }
            end = days.partition_point(|&d| d <= day);
        }
        if let Some(years) = self.last_years {
            if end > 0 {
                let start = days[end - 1] - (years * 365.25).round() as i64;
                first = first.max(days.partition_point(|&d| d < start));
            }
        }
        if end < first + 2 {
            let kept = end.saturating_sub(first);
            let field = self.from.as_ref().or(self.to.as_ref()).map_or(file.to_string(), |bound| bound.field.clone());
            let edge =
                |bound: &Option<Bound>, row: usize| bound.as_ref().map_or(format_date(days[row]), |b| b.date.clone());
            let reason = format!(
                "the window {} to {} leaves {kept} row{} of {file}; at least two are needed (one return)",
                edge(&self.from, 0),
                edge(&self.to, days.len() - 1),
                if kept == 1 { "" } else { "s" },
            );
            return Err(DataError::new(field, reason));
        }
        Ok((first, end))
    }
}

/// The file as it is read: every byte hashed (a run records the data it saw) and
/// counted against sptlab's input limit, so that the file is never held whole.
struct HashedReader<R> {
    inner: R,
    hasher: sha2::Sha256,
    read: u64,
    limit: u64,
}

impl<R: Read> Read for HashedReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        use sha2::Digest;
        let got = self.inner.read(buffer)?;
        self.read += got as u64;
        if self.read > self.limit {
            return Err(io::Error::other(format!("is larger than {} MiB, the most sptlab reads", self.limit >> 20)));
        }
        self.hasher.update(&buffer[..got]);
        Ok(got)
    }
}

/// A cell the reader could not use (already reported), told apart from a missing one
/// (NaN): neither is ever a valid value, which is positive and finite.
const BAD_CELL: f64 = f64::NEG_INFINITY;

impl Table {
    /// Reads `path`, keeping the rows of `window`. `what` names the values ("price" or
    /// "market cap") in messages. A window must lie within the file's dates and keep at
    /// least two rows (one return).
    pub fn read(path: &Path, window: &Window, what: &str) -> Result<Table, DataError> {
        Table::read_columns(path, window, what, 2)
    }

    /// As [`Table::read`], for a file of at least `least` value columns (an index: one).
    ///
    /// The file is streamed, and each row kept as its values alone (8 bytes a cell, a
    /// missing one as NaN): the memory held is about the size of the file.
    pub fn read_columns(path: &Path, window: &Window, what: &str, least: usize) -> Result<Table, DataError> {
        use sha2::Digest;
        let file = path.display().to_string();
        let error = |location: String, reason: String| DataError { location, reason };
        let cannot_read = |e: &dyn std::fmt::Display| error(file.clone(), format!("cannot read: {e}"));
        let opened = std::fs::File::open(path).map_err(|e| cannot_read(&e))?;
        if opened.metadata().map_err(|e| cannot_read(&e))?.is_dir() {
            return Err(cannot_read(&"is a directory"));
        }
        let limit = crate::files::MAX_CSV_INPUT;
        let source = HashedReader { inner: opened, hasher: sha2::Sha256::new(), read: 0, limit };
        let mut reader = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(source);
        let io_problem = |e: &csv::Error| match e.kind() {
            csv::ErrorKind::Io(io) => Some(cannot_read(io)),
            _ => None,
        };
        let header = match reader.headers() {
            Ok(header) => header.clone(),
            Err(e) => {
                return Err(io_problem(&e).unwrap_or_else(|| error(format!("{file}:1"), format!("bad header: {e}"))))
            }
        };
        if header.len() < least + 1 || !header[0].eq_ignore_ascii_case("date") {
            let shape = if least == 1 { "`Date,NAME`" } else { "`Date,TICKER1,TICKER2,...` with at least two tickers" };
            return Err(error(format!("{file}:1"), format!("the header must be {shape}")));
        }
        let tickers: Vec<String> = header.iter().skip(1).map(str::to_string).collect();
        for (column, ticker) in tickers.iter().enumerate() {
            if ticker.is_empty() {
                return Err(error(format!("{file}:1, column {}", column + 2), "empty ticker name".into()));
            }
            // A name is printed in tables and reports: no escape sequences, NULs or
            // line breaks that would rewrite the terminal.
            if ticker.chars().any(char::is_control) {
                return Err(error(
                    format!("{file}:1, column {}", column + 2),
                    format!("ticker name {:?} holds a control character", ticker),
                ));
            }
            if tickers[..column].contains(ticker) {
                return Err(error(
                    format!("{file}:1, column {}", column + 2),
                    format!("ticker {ticker} appears twice"),
                ));
            }
        }

        // Row problems are collected, so that one pass reports them all (up to a limit).
        let mut problems: Vec<DataError> = Vec::new();
        let mut days: Vec<i64> = Vec::new();
        let mut previous_date = String::new();
        let mut values = Rows::new(tickers.len());
        let mut lines: Vec<u64> = Vec::new();
        let mut record = csv::StringRecord::new();
        let mut row = Vec::with_capacity(tickers.len());
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    if let Some(problem) = io_problem(&e) {
                        return Err(problem);
                    }
                    let line = e.position().map_or(String::new(), |p| format!(":{}", p.line()));
                    problems.push(error(format!("{file}{line}"), format!("{e}")));
                    continue;
                }
            }
            let line = record.position().map_or(0, |p| p.line());
            let at = |column: usize| format!("{file}:{line}, column {column}");
            let date = &record[0];
            let Some(day) = parse_date(date) else {
                problems.push(error(at(1), format!("`{date}` is not a date of the form YYYY-MM-DD")));
                continue;
            };
            if let Some(&previous) = days.last() {
                if day == previous {
                    problems.push(error(at(1), format!("date {date} appears twice")));
                    continue;
                }
                if day < previous {
                    problems.push(error(
                        at(1),
                        format!(
                            "date {date} follows the later date {previous_date}: rows must be sorted, oldest first"
                        ),
                    ));
                    continue;
                }
            }
            row.clear();
            for (stock, cell) in record.iter().skip(1).enumerate() {
                let value = if cell.is_empty() || cell.eq_ignore_ascii_case("na") || cell.eq_ignore_ascii_case("nan") {
                    f64::NAN
                } else {
                    match cell.parse::<f64>() {
                        Err(_) => {
                            problems.push(error(
                                at(stock + 2),
                                format!("`{cell}` is not a number ({} on {date})", tickers[stock]),
                            ));
                            BAD_CELL
                        }
                        Ok(value) if !(value.is_finite() && value > 0.0) => {
                            problems.push(error(
                                at(stock + 2),
                                format!(
                                    "{} on {date}: {} {what} must be positive and finite, got {cell}",
                                    tickers[stock],
                                    if what.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
                                ),
                            ));
                            BAD_CELL
                        }
                        Ok(value) => value,
                    }
                };
                row.push(value);
            }
            previous_date.clear();
            previous_date.push_str(date);
            days.push(day);
            values.push(&row);
            lines.push(line);
        }
        // The rest of the file (nothing after the last record) joins the hash too.
        let mut source = reader.into_inner();
        io::copy(&mut source, &mut io::sink()).map_err(|e| cannot_read(&e))?;
        let sha256: String = source.hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        if days.is_empty() && problems.is_empty() {
            return Err(error(file, "has a header but no rows".into()));
        }
        let file_span = Span::of(&days);

        // With problems in the rows, those are the report (the window may rest on a bad date).
        let (first, end) = match window.rows(&file, &days) {
            Ok(rows) => rows,
            Err(problem) if problems.is_empty() => return Err(problem),
            Err(_) => (0, days.len()),
        };
        let dates: Vec<String> = days[first..end].iter().map(|&day| format_date(day)).collect();
        for (offset, (line, date)) in lines[first..end].iter().zip(&dates).enumerate() {
            for (stock, value) in values[first + offset].iter().enumerate() {
                if value.is_nan() {
                    problems.push(error(
                        format!("{file}:{line}, column {}", stock + 2),
                        if least == 1 {
                            // An index file: its window is the data's, which no option of its own moves.
                            format!(
                                "missing {what} for {} on {date}; the index needs one on every date of the data",
                                tickers[stock]
                            )
                        } else {
                            format!(
                                "missing {what} for {} on {date}; every stock needs a value on every day of the \
                                 window (start the window after it)",
                                tickers[stock],
                            )
                        },
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(DataError::all_of(problems));
        }
        // The complete rows just before the window, then the window's, moved down in place.
        values.truncate(end);
        let complete_before = (0..first).rev().take_while(|&row| !values[row].iter().any(|v| v.is_nan())).count();
        values.drop_first(first - complete_before);
        let kept = values.split_off(complete_before);
        let earlier = values;
        Ok(Table { sha256, tickers, dates, days: days[first..end].to_vec(), values: kept, earlier, file_span })
    }

    /// The record of this table, read from `path` (prices, or caps when `caps`).
    pub fn record(&self, path: &Path, caps: bool) -> DataRecord {
        DataRecord {
            path: path.display().to_string(),
            sha256: self.sha256.clone(),
            values: if caps { "caps" } else { "prices" }.to_string(),
            tickers: self.tickers.clone(),
            from: self.dates[0].clone(),
            to: self.dates[self.dates.len() - 1].clone(),
            rows: self.dates.len(),
            periods_per_year: self.periods_per_year(),
        }
    }

    /// Daily log returns, `returns[t][stock]` between rows t and t + 1.
    pub fn log_returns(&self) -> Rows {
        log_changes(&self.values.iter().collect::<Vec<_>>())
    }

    /// The data's frequency: rows a year over the window when it spans a quarter, else
    /// over the whole file when that does (a short window says little about it).
    pub fn frequency(&self) -> Option<Frequency> {
        Span::of(&self.days).frequency().or_else(|| self.file_span.frequency())
    }

    /// Rows per year, from the number of returns over the calendar span.
    pub fn periods_per_year(&self) -> f64 {
        let span_years = (self.days.last().unwrap() - self.days[0]) as f64 / 365.25;
        (self.values.len() - 1) as f64 / span_years
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_and_count_days() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01").unwrap() - parse_date("2000-02-28").unwrap(), 2);
        assert_eq!(parse_date("2022-12-28").unwrap() - parse_date("1990-01-02").unwrap(), 12_048);
        for bad in ["2021-02-29", "2021-13-01", "2021-1-01", "20210101", "2021-01-0x"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn formatted_dates_parse_back() {
        for day in (-800_000..800_000).step_by(997).chain([0, -1, 11_016, 19_358]) {
            assert_eq!(parse_date(&format_date(day)), Some(day), "{day}");
        }
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(parse_date("2000-02-29").unwrap()), "2000-02-29");
    }
}
