//! The `[format]` section of a pipeline file validated: which decoder reads the extract
//! and the options every format shares (header rows, trailing rows, row filters, the
//! number format).

use regex::Regex;

use super::raw::{HeaderRows, RawFormat};
use crate::error::Problems;
use crate::normalize::value;

/// Decoder and its format-specific options.
#[derive(Debug, Clone)]
pub enum Format {
    /// Delimited text.
    Csv {
        /// Delimiter byte.
        delimiter: u8,
        /// Text encoding.
        encoding: &'static encoding_rs::Encoding,
    },
    /// A Kolada data page: one row per KPI, kommun, year and kön with columns `kpi`,
    /// `municipality`, `period`, `gender`, `value` (`..` when null), `status`, `count`.
    Kolada,
    /// A JSON-stat 2.0 dataset (SCB PxWeb `json-stat2`): one row per cube cell, columns
    /// `<dimension>`, `<dimension>_label`, `value`, `status`.
    JsonStat,
    /// Excel workbook.
    Xlsx {
        /// Sheet name; the first sheet when `None`.
        sheet: Option<String>,
    },
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

pub(super) fn validate_format(
    raw: RawFormat,
    file: &str,
    p: &mut Problems,
) -> (Format, TableOptions) {
    let format = match raw.kind.as_str() {
        "csv" => {
            if raw.sheet.is_some() {
                p.push(file, "format.sheet", "only for xlsx");
            }
            let delimiter = match raw.delimiter.as_deref().unwrap_or(";") {
                "\\t" | "\t" => b'\t',
                d if d.len() == 1 => d.as_bytes()[0],
                d => {
                    p.push(
                        file,
                        "format.delimiter",
                        format!("'{d}' is not a single ASCII character"),
                    );
                    b';'
                }
            };
            let label = raw.encoding.as_deref().unwrap_or("utf-8");
            let encoding =
                encoding_rs::Encoding::for_label(label.as_bytes()).unwrap_or_else(|| {
                    p.push(
                        file,
                        "format.encoding",
                        format!("unknown encoding '{label}'; e.g. utf-8 or windows-1252"),
                    );
                    encoding_rs::UTF_8
                });
            Format::Csv {
                delimiter,
                encoding,
            }
        }
        "xlsx" => {
            for (set, key) in [
                (raw.delimiter.is_some(), "delimiter"),
                (raw.encoding.is_some(), "encoding"),
            ] {
                if set {
                    p.push(file, format!("format.{key}"), "only for csv");
                }
            }
            Format::Xlsx { sheet: raw.sheet }
        }
        "kolada" | "jsonstat" => {
            for (set, key) in [
                (raw.delimiter.is_some(), "delimiter"),
                (raw.encoding.is_some(), "encoding"),
                (raw.sheet.is_some(), "sheet"),
            ] {
                if set {
                    p.push(
                        file,
                        format!("format.{key}"),
                        format!("not used by {}", raw.kind),
                    );
                }
            }
            if raw.kind == "kolada" {
                Format::Kolada
            } else {
                Format::JsonStat
            }
        }
        other => {
            p.push(
                file,
                "format.type",
                format!("unknown format '{other}'; expected csv, xlsx, jsonstat or kolada"),
            );
            Format::Xlsx { sheet: None }
        }
    };
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
    (
        format,
        TableOptions {
            header_rows,
            skip_trailing_rows,
            trailing_row_matches,
            drop_rows_where,
            numbers,
        },
    )
}
