//! Reading a wide daily CSV (`Date,TICKER1,TICKER2,...`, one row per day, oldest
//! first) of prices or market caps, with every problem reported by line and column.

use std::path::Path;

use super::DataError;

/// A validated table of positive values, one row per date, restricted to a window.
#[derive(Debug, Clone)]
pub struct Table {
    pub tickers: Vec<String>,
    /// ISO dates (YYYY-MM-DD), strictly increasing.
    pub dates: Vec<String>,
    /// Days since 1970-01-01 of each date.
    pub days: Vec<i64>,
    /// `values[row][stock]`, all finite and positive.
    pub values: Vec<Vec<f64>>,
    /// SHA-256 of the whole file, hex (provenance: a run records the data it saw).
    pub sha256: String,
    /// The complete rows just before the window, oldest first (for estimates that warm
    /// up on earlier data); stops at the first row with a missing value.
    pub earlier: Vec<Vec<f64>>,
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

/// The log changes between consecutive rows, `changes[t][stock] = ln(rows[t + 1] / rows[t])`.
pub fn log_changes(rows: &[&Vec<f64>]) -> Vec<Vec<f64>> {
    rows.windows(2).map(|pair| pair[1].iter().zip(pair[0]).map(|(b, a)| (b / a).ln()).collect()).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
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
    fn rows(&self, file: &str, dates: &[String], days: &[i64]) -> Result<(usize, usize), DataError> {
        let (Some(&first_day), Some(&last_day)) = (days.first(), days.last()) else {
            return Err(DataError::new(file, "has no rows"));
        };
        // Names the file the date is not in: the data, or (for --benchmark) the index.
        let span = format!("{file}, which runs from {} to {}", dates[0], dates[dates.len() - 1]);
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
                |bound: &Option<Bound>, row: usize| bound.as_ref().map_or(dates[row].clone(), |b| b.date.clone());
            let reason = format!(
                "the window {} to {} leaves {kept} row{} of {file}; at least two are needed (one return)",
                edge(&self.from, 0),
                edge(&self.to, dates.len() - 1),
                if kept == 1 { "" } else { "s" },
            );
            return Err(DataError::new(field, reason));
        }
        Ok((first, end))
    }
}

impl Table {
    /// Reads `path`, keeping the rows of `window`. `what` names the values ("price" or
    /// "market cap") in messages. A window must lie within the file's dates and keep at
    /// least two rows (one return).
    pub fn read(path: &Path, window: &Window, what: &str) -> Result<Table, DataError> {
        Table::read_columns(path, window, what, 2)
    }

    /// As [`Table::read`], for a file of at least `least` value columns (an index: one).
    pub fn read_columns(path: &Path, window: &Window, what: &str, least: usize) -> Result<Table, DataError> {
        let file = path.display().to_string();
        let error = |location: String, reason: String| DataError { location, reason };
        let bytes = crate::files::read_limited(path, crate::files::MAX_CSV_INPUT)
            .map_err(|e| error(file.clone(), format!("cannot read: {e}")))?;
        let mut reader = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(&bytes[..]);
        let header = reader.headers().map_err(|e| error(format!("{file}:1"), format!("bad header: {e}")))?.clone();
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
        let mut dates = Vec::new();
        let mut days = Vec::new();
        let mut values: Vec<Vec<Option<f64>>> = Vec::new();
        let mut lines = Vec::new();
        for record in reader.records() {
            let record = match record {
                Ok(record) => record,
                Err(e) => {
                    let line = e.position().map_or(String::new(), |p| format!(":{}", p.line()));
                    problems.push(error(format!("{file}{line}"), format!("{e}")));
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| p.line());
            let at = |column: usize| format!("{file}:{line}, column {column}");
            let date = &record[0];
            let Some(day) = parse_date(date) else {
                problems.push(error(at(1), format!("`{date}` is not a date of the form YYYY-MM-DD")));
                continue;
            };
            if let (Some(&previous), Some(previous_date)) = (days.last(), dates.last()) {
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
            let mut row = Vec::with_capacity(tickers.len());
            for (stock, cell) in record.iter().skip(1).enumerate() {
                let value = if cell.is_empty() || cell.eq_ignore_ascii_case("na") || cell.eq_ignore_ascii_case("nan") {
                    None
                } else {
                    match cell.parse::<f64>() {
                        Err(_) => {
                            problems.push(error(
                                at(stock + 2),
                                format!("`{cell}` is not a number ({} on {date})", tickers[stock]),
                            ));
                            Some(f64::NAN)
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
                            Some(f64::NAN)
                        }
                        Ok(value) => Some(value),
                    }
                };
                row.push(value);
            }
            dates.push(date.to_string());
            days.push(day);
            values.push(row);
            lines.push(line);
        }
        if dates.is_empty() && problems.is_empty() {
            return Err(error(file, "has a header but no rows".into()));
        }

        // With problems in the rows, those are the report (the window may rest on a bad date).
        let (first, end) = match window.rows(&file, &dates, &days) {
            Ok(rows) => rows,
            Err(problem) if problems.is_empty() => return Err(problem),
            Err(_) => (0, dates.len()),
        };
        let mut complete = Vec::with_capacity(end - first);
        for ((row, line), date) in values[first..end].iter().zip(&lines[first..end]).zip(&dates[first..end]) {
            let mut filled = Vec::with_capacity(row.len());
            for (stock, value) in row.iter().enumerate() {
                match value {
                    Some(value) => filled.push(*value),
                    None => problems.push(error(
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
                    )),
                }
            }
            complete.push(filled);
        }
        if !problems.is_empty() {
            return Err(DataError::all_of(problems));
        }
        let mut earlier: Vec<Vec<f64>> =
            values[..first].iter().rev().map_while(|row| row.iter().copied().collect::<Option<Vec<f64>>>()).collect();
        earlier.reverse();
        Ok(Table {
            sha256: sha256_hex(&bytes),
            tickers,
            dates: dates[first..end].to_vec(),
            days: days[first..end].to_vec(),
            values: complete,
            earlier,
        })
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
    pub fn log_returns(&self) -> Vec<Vec<f64>> {
        log_changes(&self.values.iter().collect::<Vec<_>>())
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
}
