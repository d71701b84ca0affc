//! Formats: bytes of one extract → a [`RawTable`] of text cells.
//!
//! Each format owns, in its own file, the validation of its `[format]` keys
//! (`validate(raw, file, problems) -> Format`) and its reader (`read(bytes, …) -> rows`).
//! This file holds what joins them: the [`Format`] enum, the one dispatch on the `type`
//! key (`FORMATS`) and the one `match` that decodes ([`decode_chunks`]). What all
//! formats share — the shared keys (`options`), picking the header rows, joining merged
//! header cells, dropping empty, trailing and filtered rows (`shape`) — happens once.
//! Typing and mapping are not a format's business (see `normalize`).

pub mod csv;
mod error;
pub mod jsonstat;
pub mod kolada;
mod options;
mod shape;
pub mod xlsx;

pub use error::FormatError;
pub use options::{HeaderRows, RawFormat, RawRowFilter, TableOptions};
use shape::shape;

use crate::error::Problems;

/// Decoder and its format-specific options: a validated `[format]`.
#[derive(Debug, Clone)]
pub enum Format {
    /// Delimited text.
    Csv(csv::CsvOptions),
    /// A Kolada data page: one row per KPI, kommun, year and kön with columns `kpi`,
    /// `municipality`, `period`, `gender`, `value` (`..` when null), `status`, `count`.
    Kolada,
    /// A JSON-stat 2.0 dataset (SCB PxWeb `json-stat2`): one row per cube cell, columns
    /// `<dimension>`, `<dimension>_label`, `value`, `status`.
    JsonStat,
    /// Excel workbook.
    Xlsx(xlsx::XlsxOptions),
}

/// Checks a format's own keys of `[format]`, every problem into the collector.
type Validate = fn(&RawFormat, &str, &mut Problems) -> Format;

/// Every format by its `type` key, in the order the message for an unknown one lists them.
const FORMATS: &[(&str, Validate)] = &[
    ("csv", csv::validate),
    ("xlsx", xlsx::validate),
    ("jsonstat", jsonstat::validate),
    ("kolada", kolada::validate),
];

/// Validates `[format]` of the pipeline file `file`: the format's own keys, then the
/// shared options, every problem into `p` (a value is returned even with problems, so
/// that the rest of the file is checked too).
pub fn validate(raw: RawFormat, file: &str, p: &mut Problems) -> (Format, TableOptions) {
    let format = match FORMATS.iter().find(|(kind, _)| *kind == raw.kind) {
        Some((_, validate)) => validate(&raw, file, p),
        None => {
            let kinds: Vec<&str> = FORMATS.iter().map(|(kind, _)| *kind).collect();
            let (last, rest) = kinds.split_last().unwrap_or((&"", &[]));
            p.push(
                file,
                "format.type",
                format!(
                    "unknown format '{}'; expected {} or {last}",
                    raw.kind,
                    rest.join(", ")
                ),
            );
            Format::Xlsx(xlsx::XlsxOptions { sheet: None })
        }
    };
    (format, options::validate(raw, file, p))
}

/// One row of the source, numbered as in the file (1-based line or sheet row, blank
/// lines counted).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawRow {
    /// 1-based row number in the file.
    pub row: usize,
    /// Cells as text.
    pub cells: Vec<String>,
    /// Why the row cannot be trusted as read (fields missing or extra, a quoted field
    /// running over lines): it is quarantined with this reason instead of mapped.
    pub problem: Option<String>,
}

/// A decoded extract: the rows above and including the header, the column names, the data rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawTable {
    /// Rows from the top of the file down to the last header row (for `cell = "A1"` fields).
    pub head: Vec<Vec<String>>,
    /// Column names (header rows joined).
    pub columns: Vec<String>,
    /// Data rows.
    pub rows: Vec<RawRow>,
    /// Data rows dropped by `skip_trailing_rows` or `drop_rows_where` (reported, not quarantined).
    pub dropped: usize,
}

impl RawTable {
    /// Index of a column by name (exact, then case-insensitive and trimmed).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name).or_else(|| {
            let want = name.trim().to_lowercase();
            self.columns
                .iter()
                .position(|c| c.trim().to_lowercase() == want)
        })
    }

    /// A cell of the head by 0-based row and column.
    pub fn head_cell(&self, row: usize, col: usize) -> Option<&str> {
        self.head
            .get(row)
            .and_then(|r| r.get(col))
            .map(String::as_str)
    }
}

/// Characters of input a message quotes at most.
pub(crate) const QUOTED_CHARS: usize = 200;

/// Input quoted in a message: at most [`QUOTED_CHARS`] characters, so a file of one 10 MB
/// line does not end up whole in the log and the run ledger.
pub fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("{}… ({} characters)", &text[..cut], text.chars().count()),
        None => text.to_string(),
    }
}

/// A JSON number as cell text with `decimal` as separator (shared by the JSON formats).
/// Integers stay integers (`787`); floats use Rust's shortest round-trip form, which never
/// has an exponent (the value parser reads none).
pub(crate) fn json_number_text(x: &serde_json::Number, decimal: char) -> String {
    if let Some(i) = x.as_i64() {
        return i.to_string();
    }
    if let Some(u) = x.as_u64() {
        return u.to_string();
    }
    let text = x.as_f64().map_or_else(|| x.to_string(), |f| f.to_string());
    if decimal == '.' {
        text
    } else {
        text.replace('.', &decimal.to_string())
    }
}

/// Names the JSON type of `v` for error messages (shared by the JSON formats).
pub(crate) fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Decodes `bytes` with the pipeline's format into one table. Errors are about the whole
/// file.
pub fn decode(
    format: &Format,
    options: &TableOptions,
    bytes: &[u8],
) -> Result<RawTable, FormatError> {
    collected(|on_chunk| decode_chunks(format, options, bytes, usize::MAX, on_chunk))
}

/// The chunks a chunked reader hands over, joined into one table (with its dropped rows).
fn collected(
    read: impl FnOnce(&mut dyn FnMut(RawTable) -> Result<(), FormatError>) -> Result<usize, FormatError>,
) -> Result<RawTable, FormatError> {
    let mut whole: Option<RawTable> = None;
    let dropped = read(&mut |chunk| {
        match &mut whole {
            Some(t) => t.rows.extend(chunk.rows),
            None => whole = Some(chunk),
        }
        Ok(())
    })?;
    let mut table = whole.unwrap_or_default();
    table.dropped = dropped;
    Ok(table)
}

/// [`decode_chunks`] with the reading on a thread of its own, one chunk ahead of
/// `on_chunk`: a CSV file is split into records on one core while the chunk before is
/// mapped on the others, instead of the mapping waiting for the reading. The same
/// chunks in the same order with the same result: a failure of
/// `on_chunk` stops the reading and is the error returned, as it comes from an earlier
/// chunk than any the reader could fail on.
pub fn decode_chunks_ahead<E: From<FormatError>>(
    format: &Format,
    options: &TableOptions,
    input: impl std::io::Read + Send,
    chunk_rows: usize,
    on_chunk: &mut dyn FnMut(RawTable) -> Result<(), E>,
) -> Result<usize, E> {
    std::thread::scope(|s| {
        // A rendezvous: the reader waits with its chunk until the one before is taken, so
        // one exists besides the one being mapped (a national extract's chunk of text
        // cells is some 27 MB; a buffered channel kept a third).
        let (ahead, chunks) = std::sync::mpsc::sync_channel::<RawTable>(0);
        let reader = s.spawn(move || {
            // `None`: the receiving side has stopped, with an error of its own.
            decode_chunks::<Option<FormatError>>(format, options, input, chunk_rows, &mut |c| {
                ahead.send(c).map_err(|_| None)
            })
        });
        let mut failed = None;
        for chunk in chunks.iter() {
            if let Err(e) = on_chunk(chunk) {
                failed = Some(e);
                break;
            }
        }
        drop(chunks);
        let read = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        match (failed, read) {
            (Some(e), _) => Err(e),
            (None, Ok(dropped)) => Ok(dropped),
            (None, Err(Some(e))) => Err(e.into()),
            (None, Err(None)) => {
                unreachable!("the reader is stopped only by a failure of on_chunk")
            }
        }
    })
}

/// Decodes the extract `input` and hands the data rows to `on_chunk` in tables of at
/// most `chunk_rows` rows, in file order, each with the head and the columns; at least
/// one (possibly empty) table is handed over. A CSV file is read block by block and split
/// into records as it is read, so a large extract is held neither as bytes nor as one
/// table of text cells; the other formats (workbooks, JSON: small) are read whole.
/// Returns the number of rows dropped by `skip_trailing_rows` and `drop_rows_where`.
///
/// The error is the caller's: what `on_chunk` fails with, or a [`FormatError`] turned
/// into it, so a caller that maps and spills in `on_chunk` keeps its own failures apart
/// from the file's.
pub fn decode_chunks<E: From<FormatError>>(
    format: &Format,
    options: &TableOptions,
    input: impl std::io::Read + Send,
    chunk_rows: usize,
    on_chunk: &mut dyn FnMut(RawTable) -> Result<(), E>,
) -> Result<usize, E> {
    let rows = match format {
        Format::Csv(o) => {
            return shape(
                csv::records(input, o.encoding, o.delimiter)?,
                options,
                chunk_rows,
                on_chunk,
            );
        }
        Format::Xlsx(o) => xlsx::read(&whole(input)?, o.sheet.as_deref(), options.numbers.decimal)?,
        Format::JsonStat => jsonstat::read(&whole(input)?, options.numbers.decimal)?,
        Format::Kolada => kolada::read(&whole(input)?, options.numbers.decimal)?,
    };
    shape(rows.into_iter().map(Ok), options, chunk_rows, on_chunk)
}

/// The whole of `input`, for the formats read as a whole.
fn whole(mut input: impl std::io::Read) -> Result<Vec<u8>, FormatError> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|source| FormatError::Read { row: 0, source })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::value::NumberFormat;

    fn csv_with_trailer(trailer: &str) -> (Format, TableOptions, Vec<u8>) {
        let format = Format::Csv(csv::CsvOptions {
            delimiter: b';',
            encoding: encoding_rs::UTF_8,
        });
        let options = TableOptions {
            header_rows: vec![1],
            skip_trailing_rows: 1,
            trailing_row_matches: Some(regex::Regex::new("^Totalt;").expect("re")),
            drop_rows_where: vec![],
            numbers: NumberFormat::default(),
        };
        let mut text = String::from("Nr;Belopp\n");
        for i in 0..10 {
            text.push_str(&format!("{i};{}\n", i * 10));
        }
        text.push_str(trailer);
        (format, options, text.into_bytes())
    }

    /// The rows of each chunk handed over, by their file row numbers.
    type Seen = Vec<Vec<usize>>;

    fn read(
        ahead: bool,
        bytes: &[u8],
        format: &Format,
        options: &TableOptions,
        fail_at: Option<usize>,
    ) -> (Seen, Result<usize, String>) {
        let mut seen = Vec::new();
        let mut on_chunk = |t: RawTable| -> Result<(), FormatError> {
            seen.push(t.rows.iter().map(|r| r.row).collect());
            if Some(seen.len()) == fail_at {
                return Err(FormatError::Other("refused by the receiving side".into()));
            }
            Ok(())
        };
        let result = if ahead {
            decode_chunks_ahead(format, options, bytes, 3, &mut on_chunk)
        } else {
            decode_chunks(format, options, bytes, 3, &mut on_chunk)
        };
        (seen, result.map_err(|e| e.to_string()))
    }

    #[test]
    fn reading_ahead_hands_over_the_same_chunks_with_the_same_outcome() {
        let (format, options, good) = csv_with_trailer("Totalt;450\n");
        let (_, _, no_trailer) = csv_with_trailer("");
        let cases = [
            ("whole file", &good, None),
            ("the receiver fails at chunk 2", &good, Some(2)),
            ("the file fails after its last chunk", &no_trailer, None),
            ("both fail: the receiver's error wins", &no_trailer, Some(1)),
        ];
        for (case, bytes, fail_at) in cases {
            let one_by_one = read(false, bytes, &format, &options, fail_at);
            let ahead = read(true, bytes, &format, &options, fail_at);
            assert_eq!(ahead, one_by_one, "{case}");
        }
        // What the cases above compare is what they are named for.
        let (seen, result) = read(true, &good, &format, &options, None);
        assert_eq!(
            seen,
            vec![vec![2, 3, 4], vec![5, 6, 7], vec![8, 9, 10], vec![11]]
        );
        assert_eq!(result, Ok(1));
        let (seen, result) = read(true, &good, &format, &options, Some(2));
        assert_eq!(seen.len(), 2);
        assert!(result.is_err_and(|e| e.contains("refused")));
        let (seen, result) = read(true, &no_trailer, &format, &options, None);
        assert_eq!(
            seen.concat().len(),
            9,
            "the last row is held back as the trailer"
        );
        assert!(result.is_err_and(|e| e.contains("row 11")));
        let (_, result) = read(true, &no_trailer, &format, &options, Some(1));
        assert!(result.is_err_and(|e| e.contains("refused")));
    }
}
