//! Reading a long daily file: one row per stock and date, oldest date first, as CRSP's
//! daily stock file comes from WRDS (`PERMNO, date, PRC, SHROUT, RET, DLRET`, any case)
//! or with sptlab's own names (`date, id`, then `cap` or both `price` and `shares`, and
//! optionally `return` and `delisting_return`). The rows are streamed a date at a time
//! ([`LongReader`]), so memory follows the stocks listed on a day, not the file.
//!
//! What a row says, checked once here:
//! - the cap is `cap`, or |price| x shares (CRSP's PRC is negative for a bid/ask
//!   average: its absolute value is the price);
//! - `return` is the total return since the stock's previous row (dividends included),
//!   `delisting_return` the return applied on its last row; either may be missing: an
//!   empty cell, or one of CRSP's letter codes (A, B, C, P, S, T, ...), counted;
//! - a cap or price that is missing (empty, or a PRC of 0) leaves the row's cap
//!   missing, and the replay carries the stock's last one forward.

use std::io::Read;

use super::{parse_date, DataError};

/// Where each field of a row is, by column (0-based).
#[derive(Debug, Clone, PartialEq)]
pub struct LongColumns {
    pub date: usize,
    pub id: usize,
    pub cap: CapColumns,
    pub total_return: Option<usize>,
    pub delisting_return: Option<usize>,
}

/// How a row gives its stock's market cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CapColumns {
    Cap(usize),
    PriceShares { price: usize, shares: usize },
}

/// A header's accepted names for each field (compared without case).
const DATE: [&str; 1] = ["date"];
const ID: [&str; 2] = ["id", "permno"];
const CAP: [&str; 1] = ["cap"];
const PRICE: [&str; 2] = ["price", "prc"];
const SHARES: [&str; 2] = ["shares", "shrout"];
const RETURN: [&str; 2] = ["return", "ret"];
const DELISTING_RETURN: [&str; 2] = ["delisting_return", "dlret"];

impl LongColumns {
    /// The columns of a header, or why it is not a long file: `date` and `id` (or
    /// PERMNO), and `cap` or both `price` and `shares` (PRC and SHROUT), each once.
    pub fn from_header(file: &str, header: &[&str]) -> Result<LongColumns, DataError> {
        let find = |names: &[&str]| -> Result<Option<usize>, DataError> {
            let mut found =
                header.iter().enumerate().filter(|(_, h)| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)));
            let first = found.next().map(|(column, _)| column);
            if let Some((column, _)) = found.next() {
                return Err(DataError::new(
                    format!("{file}, line 1, column {}", column + 1),
                    format!("a second column for {} (one of {})", names[0], names.join(", ")),
                ));
            }
            Ok(first)
        };
        let required = |names: &[&str]| {
            find(names)?.ok_or_else(|| {
                DataError::new(
                    format!("{file}, line 1"),
                    format!("a long file needs a column {} (or {})", names[0], names[1..].join(", ")),
                )
            })
        };
        let date =
            find(&DATE)?.ok_or_else(|| DataError::new(format!("{file}, line 1"), "a long file needs a column date"))?;
        let id = required(&ID)?;
        let cap = match (find(&CAP)?, find(&PRICE)?, find(&SHARES)?) {
            (Some(cap), None, None) => CapColumns::Cap(cap),
            (None, Some(price), Some(shares)) => CapColumns::PriceShares { price, shares },
            (Some(_), _, _) => {
                return Err(DataError::new(
                    format!("{file}, line 1"),
                    "give the cap as cap, or as price and shares, not both",
                ))
            }
            _ => {
                return Err(DataError::new(
                    format!("{file}, line 1"),
                    "a long file needs a column cap, or both price and shares (CRSP: PRC and SHROUT)",
                ))
            }
        };
        Ok(LongColumns { date, id, cap, total_return: find(&RETURN)?, delisting_return: find(&DELISTING_RETURN)? })
    }
}

/// Whether a header is a long file's rather than a wide table's (`Date,TICKER,...`):
/// it names an id column (`id`, `PERMNO`), or two of the long format's other columns
/// (a wide table with a ticker such as RET has only one).
pub fn is_long_header(header: &[&str]) -> bool {
    let named = |names: &[&str]| header.iter().any(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)));
    let others = [&CAP[..], &PRICE, &SHARES, &RETURN, &DELISTING_RETURN].iter().filter(|names| named(names)).count();
    named(&ID) || others >= 2
}

/// Whether the file at `path` is a long file, from its first line (a Parquet file, by
/// its magic bytes, always is: sptlab reads no wide table from Parquet).
pub fn is_long_file(path: &std::path::Path) -> std::io::Result<bool> {
    use std::io::BufRead;
    if is_parquet_file(path)? {
        return Ok(true);
    }
    let mut first = String::new();
    std::io::BufReader::new(std::fs::File::open(path)?).take(1 << 20).read_line(&mut first)?;
    let header: Vec<&str> = first.trim_end_matches(['\r', '\n']).split(',').map(|h| h.trim_matches('"')).collect();
    Ok(is_long_header(&header))
}

/// Whether the file at `path` starts with Parquet's magic bytes.
pub fn is_parquet_file(path: &std::path::Path) -> std::io::Result<bool> {
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(path)?.read(&mut magic)?;
    Ok(read == 4 && &magic == b"PAR1")
}

/// The SHA-256 of the file at `path` (hex), streamed: a run records the data it saw.
pub fn file_sha256(path: &std::path::Path) -> std::io::Result<String> {
    use sha2::Digest;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let got = file.read(&mut buffer)?;
        if got == 0 {
            break;
        }
        hasher.update(&buffer[..got]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// One stock's row on a date.
#[derive(Debug, Clone, PartialEq)]
pub struct StockRow {
    pub id: String,
    /// Its market cap, when the row gives one (positive).
    pub cap: Option<f64>,
    /// Its price (positive), when the file has prices and the row one.
    pub price: Option<f64>,
    /// The total return since its previous row (above -1), when given.
    pub total_return: Option<f64>,
    /// The return on delisting (at least -1), when given.
    pub delisting_return: Option<f64>,
}

/// The rows of one date.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    /// Days since 1970-01-01.
    pub date: i64,
    pub rows: Vec<StockRow>,
}

/// Cells the reader counted as missing, for a backtest's caveats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MissingCells {
    /// Returns given as a letter code (CRSP's missing-value codes).
    pub coded_returns: u64,
    /// Delisting returns given as a letter code.
    pub coded_delisting_returns: u64,
    /// Rows without a cap (an empty cell, or a price of 0).
    pub caps: u64,
}

/// Where a long file's rows come from: CSV text, or a Parquet file's rows as text.
enum Records<R: Read> {
    Csv(csv::StringRecordsIntoIter<R>),
    Parquet(Box<dyn Iterator<Item = Result<csv::StringRecord, String>>>),
}

impl<R: Read> Records<R> {
    fn next(&mut self) -> Option<Result<csv::StringRecord, String>> {
        match self {
            Records::Csv(records) => records.next().map(|record| record.map_err(|e| e.to_string())),
            Records::Parquet(rows) => rows.next(),
        }
    }
}

/// The days of a long file in date order, read as they are asked for.
pub struct LongReader<R: Read> {
    file: String,
    columns: LongColumns,
    records: Records<R>,
    /// "line" for CSV (the header is line 1), "row" for Parquet (its first row is row 1).
    unit: &'static str,
    /// The first row of the next date, read ahead.
    next: Option<(i64, StockRow)>,
    /// The last date handed out (the next must be later).
    last_date: Option<i64>,
    line: u64,
    pub missing: MissingCells,
    done: bool,
}

impl<R: Read> LongReader<R> {
    /// A reader of `source` (named `file` in messages), its header checked.
    pub fn new(file: &str, source: R) -> Result<LongReader<R>, DataError> {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(source);
        let header = reader.headers().map_err(|e| DataError::new(format!("{file}, line 1"), e.to_string()))?.clone();
        let names: Vec<&str> = header.iter().collect();
        let columns = LongColumns::from_header(file, &names)?;
        Ok(LongReader {
            file: file.to_string(),
            columns,
            records: Records::Csv(reader.into_records()),
            unit: "line",
            next: None,
            last_date: None,
            line: 1,
            missing: MissingCells::default(),
            done: false,
        })
    }

    /// A reader of the Parquet file at `path` (named `file` in messages; snappy and
    /// uncompressed pages, as pandas and pyarrow write them), its columns checked.
    pub fn parquet(file: &str, path: &std::path::Path) -> Result<LongReader<R>, DataError> {
        let (names, rows) = super::long_parquet::rows(path)
            .map_err(|reason| DataError::new(file.to_string(), format!("is not a readable Parquet file: {reason}")))?;
        let header: Vec<&str> = names.iter().map(String::as_str).collect();
        let columns = LongColumns::from_header(file, &header).map_err(|mut error| {
            error.location = error.location.replace(", line 1", ", its columns");
            error
        })?;
        Ok(LongReader {
            file: file.to_string(),
            columns,
            records: Records::Parquet(rows),
            unit: "row",
            next: None,
            last_date: None,
            line: 0,
            missing: MissingCells::default(),
            done: false,
        })
    }

    pub fn columns(&self) -> &LongColumns {
        &self.columns
    }

    /// The next row, or None at the end of the file.
    fn read_row(&mut self) -> Result<Option<(i64, StockRow)>, DataError> {
        let Some(record) = self.records.next() else { return Ok(None) };
        self.line += 1;
        let unit = self.unit;
        let record = record.map_err(|e| DataError::new(format!("{}, {unit} {}", self.file, self.line), e))?;
        let (file, line) = (self.file.as_str(), self.line);
        let at = |column: usize| format!("{file}, {unit} {line}, column {}", column + 1);
        let cell = |column: usize| record.get(column).unwrap_or("").trim();
        let date_text = cell(self.columns.date);
        let date = parse_long_date(date_text).ok_or_else(|| {
            DataError::new(at(self.columns.date), format!("{date_text:?} is not a date (YYYY-MM-DD or YYYYMMDD)"))
        })?;
        let id = cell(self.columns.id);
        if id.is_empty() {
            return Err(DataError::new(at(self.columns.id), "the id is empty"));
        }
        let number = |column: usize| -> Result<Option<f64>, DataError> {
            let text = cell(column);
            if text.is_empty() {
                return Ok(None);
            }
            match text.parse::<f64>() {
                Ok(value) if value.is_finite() => Ok(Some(value)),
                _ => Err(DataError::new(at(column), format!("{text:?} is not a finite number"))),
            }
        };
        let (cap, price) = match self.columns.cap {
            CapColumns::Cap(column) => (number(column)?, None),
            CapColumns::PriceShares { price, shares } => {
                // CRSP: a negative PRC is a bid/ask average; 0 means no price that day.
                let price_value = number(price)?.map(f64::abs).filter(|p| *p > 0.0);
                match number(shares)? {
                    Some(count) if count < 0.0 => {
                        return Err(DataError::new(at(shares), format!("{count} shares: must not be negative")))
                    }
                    count => (price_value.zip(count).map(|(p, c)| p * c).filter(|cap| *cap > 0.0), price_value),
                }
            }
        };
        if let (CapColumns::Cap(column), Some(value)) = (self.columns.cap, cap) {
            if value <= 0.0 {
                return Err(DataError::new(at(column), format!("a cap of {value}: must be positive")));
            }
        }
        let missing_cap = cap.is_none();
        let coded = |column: Option<usize>, least: f64, exclusive: bool, count: &mut u64| {
            let Some(column) = column else { return Ok(None) };
            let text = cell(column);
            if is_letter_code(text) {
                *count += 1;
                return Ok(None);
            }
            let value = number(column)?;
            match value {
                Some(v) if v < least || (exclusive && v == least) => Err(DataError::new(
                    at(column),
                    format!("a return of {v}: must be {} {least}", if exclusive { "above" } else { "at least" }),
                )),
                _ => Ok(value),
            }
        };
        let (mut coded_returns, mut coded_delisting) = (0, 0);
        let total_return = coded(self.columns.total_return, -1.0, true, &mut coded_returns)?;
        let delisting_return = coded(self.columns.delisting_return, -1.0, false, &mut coded_delisting)?;
        self.missing.coded_returns += coded_returns;
        self.missing.coded_delisting_returns += coded_delisting;
        self.missing.caps += u64::from(missing_cap);
        Ok(Some((date, StockRow { id: id.to_string(), cap, price, total_return, delisting_return })))
    }

    /// The rows of the next date, or None at the end. A date earlier than one already
    /// read, or an id twice on a date, is an error: a file in id order (as WRDS writes
    /// it) names the command that sorts it.
    fn next_day(&mut self) -> Result<Option<Day>, DataError> {
        let first = match self.next.take() {
            Some(row) => row,
            None => match self.read_row()? {
                Some(row) => row,
                None => return Ok(None),
            },
        };
        let (date, row) = first;
        if let Some(last) = self.last_date {
            if date <= last {
                return Err(self.out_of_order(date, last));
            }
        }
        let mut day = Day { date, rows: vec![row] };
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        seen.insert(day.rows[0].id.clone());
        loop {
            match self.read_row()? {
                Some((next_date, row)) if next_date == date => {
                    if !seen.insert(row.id.clone()) {
                        return Err(DataError::new(
                            format!("{}, {} {}", self.file, self.unit, self.line),
                            format!("id {} appears twice on {}", row.id, super::format_date(date)),
                        ));
                    }
                    day.rows.push(row);
                }
                Some((next_date, row)) => {
                    if next_date < date {
                        return Err(self.out_of_order(next_date, date));
                    }
                    self.next = Some((next_date, row));
                    break;
                }
                None => break,
            }
        }
        self.last_date = Some(date);
        Ok(Some(day))
    }

    fn out_of_order(&self, date: i64, after: i64) -> DataError {
        let column = self.columns.date + 1;
        let sort = match self.records {
            Records::Csv(_) => format!(
                "for example: (head -n 1 FILE && tail -n +2 FILE | sort -t, -k{column},{column} -s) > sorted.csv"
            ),
            Records::Parquet(_) => "for example in pandas: df.sort_values(\"date\", kind=\"stable\")".to_string(),
        };
        DataError::new(
            format!("{}, {} {}", self.file, self.unit, self.line),
            format!(
                "{} comes after {}: a long file is read in date order (WRDS writes it by id); sort it by date \
                 first, {sort}",
                super::format_date(date),
                super::format_date(after)
            ),
        )
    }
}

impl<R: Read> Iterator for LongReader<R> {
    type Item = Result<Day, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let day = self.next_day().transpose();
        if !matches!(day, Some(Ok(_))) {
            self.done = true;
        }
        day
    }
}

/// A long file's date: `YYYY-MM-DD`, or `YYYYMMDD` as CRSP writes it (both sort as text).
pub fn parse_long_date(text: &str) -> Option<i64> {
    if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) {
        return parse_date(&format!("{}-{}-{}", &text[0..4], &text[4..6], &text[6..8]));
    }
    parse_date(text)
}

/// Whether a return cell holds one of CRSP's letter codes for a missing value (a
/// single letter, as WRDS exports A, B, C, P, S, T and others).
fn is_letter_code(text: &str) -> bool {
    text.len() == 1 && text.bytes().all(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(text: &str) -> Result<Vec<Day>, DataError> {
        LongReader::new("crsp.csv", text.as_bytes())?.collect()
    }

    #[test]
    fn crsp_columns_are_read_in_any_case_with_prices_bid_ask_averages_and_letter_codes() {
        let text = "PERMNO,date,PRC,SHROUT,RET,DLRET\n\
                    10001,20200102,10.0,100,,\n\
                    10002,20200102,-20.0,50,0.01,\n\
                    10001,20200103,11.0,100,0.1,\n\
                    10002,20200103,0,50,C,\n\
                    10003,20200103,5.0,10,B,S\n\
                    10001,20200106,10.5,100,-0.05,-0.3\n";
        let mut reader = LongReader::new("crsp.csv", text.as_bytes()).unwrap();
        assert_eq!(reader.columns().cap, CapColumns::PriceShares { price: 2, shares: 3 });
        let days: Vec<Day> = reader.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(days.iter().map(|d| d.rows.len()).collect::<Vec<_>>(), [2, 3, 1]);
        assert_eq!(days[0].date, parse_date("2020-01-02").unwrap());
        let bid_ask = &days[0].rows[1];
        assert_eq!((bid_ask.price, bid_ask.cap, bid_ask.total_return), (Some(20.0), Some(1000.0), Some(0.01)));
        // A PRC of 0 is no price: the cap is missing; a letter-coded RET is missing.
        let no_price = &days[1].rows[1];
        assert_eq!((no_price.price, no_price.cap, no_price.total_return), (None, None, None));
        let coded = &days[1].rows[2];
        assert_eq!((coded.total_return, coded.delisting_return), (None, None));
        assert_eq!(days[2].rows[0].delisting_return, Some(-0.3));
        assert_eq!(reader.missing, MissingCells { coded_returns: 2, coded_delisting_returns: 1, caps: 1 });
    }

    #[test]
    fn sptlab_names_give_the_cap_itself() {
        let days = days("date,id,cap,return\n2021-03-01,A,5,\n2021-03-01,B,7,\n2021-03-02,A,6,0.2\n").unwrap();
        assert_eq!(days.len(), 2);
        assert_eq!(
            days[1].rows[0],
            StockRow { id: "A".into(), cap: Some(6.0), price: None, total_return: Some(0.2), delisting_return: None }
        );
    }

    #[test]
    fn a_file_in_id_order_is_refused_with_the_command_that_sorts_it() {
        let error = days("PERMNO,date,PRC,SHROUT\n1,20200102,1,1\n1,20200103,1,1\n2,20200102,1,1\n").unwrap_err();
        assert_eq!(error.location, "crsp.csv, line 4");
        assert!(error.reason.contains("2020-01-02 comes after 2020-01-03"), "{}", error.reason);
        assert!(error.reason.contains("sort -t, -k2,2 -s"), "{}", error.reason);
    }

    #[test]
    fn bad_headers_and_cells_name_their_place() {
        let problem = |text: &str| days(text).unwrap_err().to_string();
        assert!(problem("date,id,price\n").contains("needs a column cap, or both price and shares"));
        assert!(problem("date,cap\n").contains("needs a column id (or permno)"));
        assert!(problem("date,id,cap,price,shares\n").contains("not both"));
        assert!(problem("date,id,cap,RET,return\n").contains("column 5: a second column for return"));
        assert!(problem("date,id,cap\n2020-13-01,A,1\n").contains("line 2, column 1: \"2020-13-01\" is not a date"));
        assert!(problem("date,id,cap\n2020-01-01,A,-1\n").contains("line 2, column 3: a cap of -1"));
        assert!(problem("date,id,cap\n2020-01-01,A,x\n").contains("\"x\" is not a finite number"));
        assert!(problem("date,id,cap,return\n2020-01-01,A,1,-1\n").contains("must be above -1"));
        assert!(problem("date,id,cap\n2020-01-01,A,1\n2020-01-01,A,2\n").contains("id A appears twice on 2020-01-01"));
        assert!(problem("date,id,cap\n2020-01-01,,1\n").contains("the id is empty"));
        // A delisting return of -1 (a total loss) is allowed.
        let days = days("date,id,cap,delisting_return\n2020-01-01,A,1,-1\n").unwrap();
        assert_eq!(days[0].rows[0].delisting_return, Some(-1.0));
    }
}
