//! The `[format]` section as written, and the options every format shares (header rows,
//! trailing rows, row filters, the number format) validated.
//!
//! `[format]` is one flat table whatever its `type`, read like the rest of the pipeline
//! file: an unknown key is collected (`serde_ignored`) and reported with the file's other
//! problems, and a key of another format gets its own message ("only for csv"). So the
//! keys of every format are fields of [`RawFormat`]; each format's file validates its own
//! (`csv::validate`, `xlsx::validate` …), and [`validate`] here the shared ones.

use regex::Regex;
use serde::Deserialize;

use crate::error::Problems;
use crate::normalize::value;

/// `[format]`
#[derive(Debug, Deserialize)]
pub struct RawFormat {
    /// `csv`, `xlsx`, `jsonstat` (JSON-stat 2.0, e.g. SCB PxWeb `json-stat2`) or `kolada`.
    #[serde(rename = "type")]
    pub kind: String,
    /// CSV: field delimiter, one character (default `;`).
    pub delimiter: Option<String>,
    /// CSV: `utf-8` (default; a byte-order mark is skipped) or `windows-1252` (any WHATWG label).
    pub encoding: Option<String>,
    /// xlsx: sheet name (default: the first sheet).
    pub sheet: Option<String>,
    /// 1-based row number(s) of the header; several rows (merged header cells) are joined
    /// with a space. Rows above the header are the preamble. Default 1.
    pub header_rows: Option<HeaderRows>,
    /// Rows to drop at the end of the data (e.g. a trailing total row). Default 0.
    pub skip_trailing_rows: Option<usize>,
    /// What each row `skip_trailing_rows` drops must look like: a regular expression
    /// matched against the row's cells joined with `;` (e.g. `^Totalt;`). A named group
    /// `rows` is a row count the trailer declares, checked against the data rows read.
    pub trailing_row_matches: Option<String>,
    /// Drop data rows whose column matches a regular expression (e.g. notes, total rows).
    #[serde(default)]
    pub drop_rows_where: Vec<RawRowFilter>,
    /// Decimal separator, `,` (default) or `.`.
    pub decimal: Option<String>,
    /// Thousands separators (default: space, non-breaking space, narrow non-breaking space).
    pub thousands: Option<Vec<String>>,
}

/// One header row or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum HeaderRows {
    /// A single header row.
    One(usize),
    /// Several header rows, joined.
    Many(Vec<usize>),
}

/// `[[format.drop_rows_where]]`
#[derive(Debug, Deserialize)]
pub struct RawRowFilter {
    /// Source column to test.
    pub column: String,
    /// Regular expression; a matching row is dropped (not quarantined).
    pub matches: String,
}

/// Options every format shares.
#[derive(Debug, Clone)]
pub struct TableOptions {
    /// 1-based header rows.
    pub header_rows: Vec<usize>,
    /// Trailing rows to drop.
    pub skip_trailing_rows: usize,
    /// What a dropped trailing row must match (cells joined with `;`); a group `rows`
    /// declares the number of data rows.
    pub trailing_row_matches: Option<Regex>,
    /// Drop filters: (column, regex).
    pub drop_rows_where: Vec<(String, Regex)>,
    /// Number format.
    pub numbers: value::NumberFormat,
}

/// Pushes `message` for every key of `keys` that is set (a key given to a format that
/// does not read it is a mistake worth reporting, not something to ignore).
pub(super) fn refuse(keys: &[(bool, &str)], message: &str, file: &str, p: &mut Problems) {
    for (set, key) in keys {
        if *set {
            p.push(file, format!("format.{key}"), message);
        }
    }
}

/// For a format whose document says how it is read (JSON-stat, Kolada): it has no keys
/// of its own, and CSV's and xlsx's keys are refused.
pub(super) fn refuse_table_keys(raw: &RawFormat, file: &str, p: &mut Problems) {
    refuse(
        &[
            (raw.delimiter.is_some(), "delimiter"),
            (raw.encoding.is_some(), "encoding"),
            (raw.sheet.is_some(), "sheet"),
        ],
        &format!("not used by {}", raw.kind),
        file,
        p,
    );
}

/// Validates the shared options of `raw`, every problem into `p`.
pub(super) fn validate(raw: RawFormat, file: &str, p: &mut Problems) -> TableOptions {
    let header_rows = match raw.header_rows {
        None => vec![1],
        Some(HeaderRows::One(r)) => vec![r],
        Some(HeaderRows::Many(v)) => v,
    };
    if header_rows.is_empty()
        || header_rows.contains(&0)
        || header_rows.windows(2).any(|w| w[1] <= w[0])
    {
        p.push(
            file,
            "format.header_rows",
            "1-based row numbers in increasing order",
        );
    }
    let mut drop_rows_where = Vec::new();
    for (i, f) in raw.drop_rows_where.into_iter().enumerate() {
        match Regex::new(&f.matches) {
            Ok(r) => drop_rows_where.push((f.column, r)),
            Err(e) => p.push(
                file,
                format!("format.drop_rows_where[{i}].matches"),
                format!("not a valid regular expression: {e}"),
            ),
        }
    }
    let skip_trailing_rows = raw.skip_trailing_rows.unwrap_or(0);
    let trailing_row_matches = raw.trailing_row_matches.and_then(|m| {
        if skip_trailing_rows == 0 {
            p.push(
                file,
                "format.trailing_row_matches",
                "checks the rows skip_trailing_rows drops, but skip_trailing_rows is 0",
            );
        }
        match Regex::new(&m) {
            Ok(r) if r.capture_names().flatten().any(|n| n != "rows") => {
                p.push(
                    file,
                    "format.trailing_row_matches",
                    "the only named group it may have is `rows` (the row count the trailer declares)",
                );
                None
            }
            Ok(r) => Some(r),
            Err(e) => {
                p.push(
                    file,
                    "format.trailing_row_matches",
                    format!("not a valid regular expression: {e}"),
                );
                None
            }
        }
    });
    let decimal = match raw.decimal.as_deref().unwrap_or(",") {
        "," => ',',
        "." => '.',
        d => {
            p.push(file, "format.decimal", format!("'{d}' is not ',' or '.'"));
            ','
        }
    };
    let thousands = match raw.thousands {
        None => vec![' ', '\u{a0}', '\u{202f}'],
        Some(v) => v
            .iter()
            .filter_map(|s| {
                let mut cs = s.chars();
                match (cs.next(), cs.next()) {
                    (Some(c), None) if c != decimal => Some(c),
                    _ => {
                        p.push(
                            file,
                            "format.thousands",
                            format!("'{s}' must be one character other than the decimal separator"),
                        );
                        None
                    }
                }
            })
            .collect(),
    };
    let numbers = value::NumberFormat { decimal, thousands };
    TableOptions {
        header_rows,
        skip_trailing_rows,
        trailing_row_matches,
        drop_rows_where,
        numbers,
    }
}
