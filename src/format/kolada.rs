//! Kolada data pages (`{base}/data/…` of api.kolada.se v2 and v3, `type = "kolada"`) →
//! rows of text cells.
//!
//! This module owns reading one page — `{"count": n, "values": [...], "next_url": …}` — and
//! flattening it to one row per entry of `values[].values[]`: KPI, municipality, period,
//! gender, value, status and count. Paging is the transport's business
//! (`source::kolada`); typing and mapping are `normalize`'s.
//!
//! Like the JSON-stat reader, numbers are written with the pipeline's decimal separator
//! so that the shared number parser reads them like any other extract, and a null value
//! is written as `..` so that it is read as suppressed — never as 0. Entries Kolada marks
//! `isdeleted` are dropped. The page is walked as a `serde_json::Value` rather than
//! derived, so that each wrong shape gets a message saying where it is.

use serde_json::{Map, Value};

use super::json_kind as kind;

use super::options::{RawFormat, refuse_table_keys};
use super::{Format, FormatError, RawRow};
use crate::error::Problems;

/// Validates `[format]` for `type = "kolada"`: the document says how it is read, so it
/// has no keys of its own, and CSV's and xlsx's keys are refused.
pub fn validate(raw: &RawFormat, file: &str, p: &mut Problems) -> Format {
    refuse_table_keys(raw, file, p);
    Format::Kolada
}

/// Column names of row 1.
pub const HEADER: [&str; 7] = [
    "kpi",
    "municipality",
    "period",
    "gender",
    "value",
    "status",
    "count",
];

/// One decoded page: its rows and how many entries were dropped as deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Row 1 is [`HEADER`]; data rows follow, numbered from 2.
    pub rows: Vec<RawRow>,
    /// Entries of `values[].values[]` dropped because Kolada marks them `isdeleted`.
    pub deleted: usize,
}

/// Decodes one Kolada data page into rows: header `kpi, municipality, period, gender, value, status, count`, one row per entry of `values[].values[]`.
///
/// The number of deleted entries dropped is logged; [`read_page`] returns it.
pub fn read(bytes: &[u8], decimal: char) -> Result<Vec<RawRow>, FormatError> {
    let page = read_page(bytes, decimal)?;
    if page.deleted > 0 {
        tracing::debug!(
            deleted = page.deleted,
            "kolada: entries marked deleted dropped"
        );
    }
    Ok(page.rows)
}

/// Like [`read`], and also says how many deleted entries were dropped.
pub fn read_page(bytes: &[u8], decimal: char) -> Result<Page, FormatError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let root: Value = serde_json::from_slice(bytes).map_err(FormatError::NotJson)?;
    let Value::Object(top) = &root else {
        return Err(FormatError::Kolada(format!(
            "not a Kolada data page: the top level is {}, not an object",
            kind(&root)
        )));
    };
    let entries = match top.get("values") {
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(FormatError::Kolada(format!(
                "not a Kolada data page: 'values' is {}, expected an array",
                kind(other)
            )));
        }
        None => {
            let keys: Vec<&str> = top.keys().map(String::as_str).take(10).collect();
            return Err(FormatError::Kolada(format!(
                "not a Kolada data page: missing 'values' (keys found: {})",
                if keys.is_empty() {
                    "none".to_string()
                } else {
                    keys.join(", ")
                }
            )));
        }
    };
    let mut rows = Vec::with_capacity(3 * entries.len() + 1);
    rows.push(RawRow {
        row: 1,
        cells: HEADER.iter().map(|s| (*s).to_string()).collect(),
        problem: None,
    });
    let mut deleted = 0;
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("values[{i}]");
        let Value::Object(entry) = entry else {
            return Err(FormatError::Kolada(format!(
                "{at} is {}, expected an object",
                kind(entry)
            )));
        };
        let inner = entry.get("values");
        if is_deleted(entry, &at)? {
            // The whole data point is gone: every breakdown under it counts as dropped.
            deleted += match inner {
                Some(Value::Array(list)) => list.len(),
                _ => 1,
            };
            continue;
        }
        let kpi = id_text(entry, "kpi", &at)?;
        let municipality = id_text(entry, "municipality", &at)?;
        let period = period(entry, &at)?;
        let at = format!("{at} (KPI {kpi}, municipality {municipality}, period {period})");
        let inner = match inner {
            Some(Value::Array(list)) => list,
            Some(other) => {
                return Err(FormatError::Kolada(format!(
                    "{at}: 'values' is {}, expected an array",
                    kind(other)
                )));
            }
            None => return Err(FormatError::Kolada(format!("{at} has no 'values'"))),
        };
        for (j, cell) in inner.iter().enumerate() {
            let at = format!("{at}: values[{j}]");
            let Value::Object(cell) = cell else {
                return Err(FormatError::Kolada(format!(
                    "{at} is {}, expected an object",
                    kind(cell)
                )));
            };
            if is_deleted(cell, &at)? {
                deleted += 1;
                continue;
            }
            let cells = vec![
                kpi.clone(),
                municipality.clone(),
                period.clone(),
                gender(cell, &at)?,
                value(cell, decimal, &at)?,
                optional_text(cell, "status", &at)?,
                count(cell, decimal, &at)?,
            ];
            rows.push(RawRow {
                row: rows.len() + 1,
                cells,
                problem: None,
            });
        }
    }
    Ok(Page { rows, deleted })
}

/// Whether Kolada marks this object `isdeleted` (a boolean; 0/1 taken as well).
fn is_deleted(obj: &Map<String, Value>, at: &str) -> Result<bool, FormatError> {
    match obj.get("isdeleted") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n <= 1) => Ok(n.as_u64() == Some(1)),
        Some(other) => Err(FormatError::Kolada(format!(
            "{at}: 'isdeleted' is {other}, expected true or false"
        ))),
    }
}

/// A required, non-empty string such as the KPI or municipality id. Numbers are refused:
/// municipality ids have leading zeros (`0880`) that a number would have lost.
fn id_text(obj: &Map<String, Value>, key: &str, at: &str) -> Result<String, FormatError> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::String(_)) => Err(FormatError::Kolada(format!("{at}: '{key}' is empty"))),
        Some(other) => Err(FormatError::Kolada(format!(
            "{at}: '{key}' is {}, expected a string",
            kind(other)
        ))),
        None => Err(FormatError::Kolada(format!("{at} has no '{key}'"))),
    }
}

/// The period (year): Kolada sends an integer; a string is taken as written.
fn period(obj: &Map<String, Value>, at: &str) -> Result<String, FormatError> {
    match obj.get("period") {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(other) => Err(FormatError::Kolada(format!(
            "{at}: 'period' is {other}, expected a year such as 2015"
        ))),
        None => Err(FormatError::Kolada(format!("{at} has no 'period'"))),
    }
}

/// Gender as K (women), M (men) or T (total). Kolada writes K/M/T; F (female) is taken as K.
fn gender(obj: &Map<String, Value>, at: &str) -> Result<String, FormatError> {
    let code = match obj.get("gender") {
        Some(Value::String(s)) => s.trim().to_ascii_uppercase(),
        Some(other) => {
            return Err(FormatError::Kolada(format!(
                "{at}: 'gender' is {}, expected K, M or T",
                kind(other)
            )));
        }
        None => return Err(FormatError::Kolada(format!("{at} has no 'gender'"))),
    };
    match code.as_str() {
        "K" | "F" => Ok("K".into()),
        "M" | "T" => Ok(code),
        _ => Err(FormatError::Kolada(format!(
            "{at}: unknown gender '{code}' (expected K, M or T)"
        ))),
    }
}

/// The value as text; `..` when null or absent, so it is read as suppressed, never as 0.
fn value(obj: &Map<String, Value>, decimal: char, at: &str) -> Result<String, FormatError> {
    match obj.get("value") {
        None | Some(Value::Null) => Ok("..".into()),
        Some(Value::Number(n)) => Ok(super::json_number_text(n, decimal)),
        Some(other) => Err(FormatError::Kolada(format!(
            "{at}: 'value' is {}, expected a number or null",
            kind(other)
        ))),
    }
}

/// The number of units behind the value, as text; empty when absent.
fn count(obj: &Map<String, Value>, decimal: char, at: &str) -> Result<String, FormatError> {
    match obj.get("count") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::Number(n)) => Ok(super::json_number_text(n, decimal)),
        Some(other) => Err(FormatError::Kolada(format!(
            "{at}: 'count' is {}, expected a number",
            kind(other)
        ))),
    }
}

/// An optional string field such as `status`; empty when absent or null.
fn optional_text(obj: &Map<String, Value>, key: &str, at: &str) -> Result<String, FormatError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(FormatError::Kolada(format!(
            "{at}: '{key}' is {}, expected a string",
            kind(other)
        ))),
    }
}

#[cfg(test)]
#[path = "kolada_tests.rs"]
mod tests;
