//! JSON-stat 2.0 datasets (SCB PxWeb's `json-stat2` output, `type = "jsonstat"`) → rows
//! of text cells.
//!
//! This module owns reading and validating one JSON-stat 2.0 `dataset` and flattening
//! its cube into one row per cell: per dimension the category code and label, then the
//! value and the status symbol. Typing and mapping are not its business (see
//! `normalize`); numbers are written with the pipeline's decimal separator so that the
//! shared number parser reads them like any other extract, and a missing value is written
//! as its status symbol (`..`) or empty — never as 0.
//!
//! The document is parsed into a `serde_json::Value` and walked by hand rather than
//! derived, because every shape that JSON-stat allows (index as array or object, value
//! and status as array, object or string) needs its own clear error message.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::json_kind as kind;

use super::options::{RawFormat, refuse_table_keys};
use super::{Format, FormatError, RawRow};
use crate::error::Problems;

/// Validates `[format]` for `type = "jsonstat"`: the document says how it is read, so it
/// has no keys of its own, and CSV's and xlsx's keys are refused.
pub fn validate(raw: &RawFormat, file: &str, p: &mut Problems) -> Format {
    refuse_table_keys(raw, file, p);
    Format::JsonStat
}

/// Largest cube read. A sparse `value` object can describe a cube far larger than the
/// file itself; rows are materialised, so an absurd `size` must be an error, not an
/// out-of-memory abort. SCB's API caps a response well below this.
const MAX_CELLS: usize = 10_000_000;

/// Reads a JSON-stat 2.0 dataset into rows of text cells: row 1 is the header, data rows follow.
///
/// Header: for each dimension in `id` order `<id>` and `<id>_label`, then `value` and
/// `status`. Data rows are in flat-index order (the last dimension varies fastest) and
/// numbered from 2.
pub fn read(bytes: &[u8], decimal: char) -> Result<Vec<RawRow>, FormatError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let root: Value = serde_json::from_slice(bytes).map_err(FormatError::NotJson)?;
    let Value::Object(top) = &root else {
        return Err(FormatError::JsonStat(format!(
            "not JSON-stat: the top level is {}, not an object",
            kind(&root)
        )));
    };
    check_class_and_version(top)?;
    let ids = ids(top)?;
    let sizes = sizes(top, ids.len())?;
    let dims = match top.get("dimension") {
        Some(Value::Object(d)) => d,
        Some(other) => {
            return Err(FormatError::JsonStat(format!(
                "not JSON-stat: 'dimension' is {}, expected an object",
                kind(other)
            )));
        }
        None => {
            return Err(FormatError::JsonStat(
                "not JSON-stat: missing 'dimension'".into(),
            ));
        }
    };
    let mut cats = Vec::with_capacity(ids.len());
    for (id, &size) in ids.iter().zip(&sizes) {
        cats.push(categories(id, dims.get(*id), size)?);
    }
    // Checked after the dimensions: an index must list every category, so a size that
    // passed those checks is backed by the file, and only the product can still explode.
    let n = cell_count(&sizes)?;
    let values = values(top.get("value"), n, decimal)?;
    let status = Status::read(top.get("status"), n)?;

    let mut rows = Vec::with_capacity(n + 1);
    let mut header = Vec::with_capacity(2 * ids.len() + 2);
    for id in &ids {
        header.push((*id).to_string());
        header.push(format!("{id}_label"));
    }
    header.extend(["value".to_string(), "status".to_string()]);
    rows.push(RawRow {
        row: 1,
        cells: header,
        problem: None,
    });
    let mut pos = vec![0usize; ids.len()];
    for (flat, value) in values.into_iter().enumerate() {
        // Row-major: the last dimension varies fastest, so peel positions off from the right.
        let mut rest = flat;
        for (p, &size) in pos.iter_mut().zip(&sizes).rev() {
            *p = rest % size;
            rest /= size;
        }
        let mut cells = Vec::with_capacity(2 * ids.len() + 2);
        for (dim, &p) in cats.iter().zip(&pos) {
            let (code, label) = &dim[p];
            cells.push(code.clone());
            cells.push(label.clone());
        }
        let symbol = status.get(flat).unwrap_or_default();
        // A missing value carries its status symbol so the value parser sees `..`
        // (suppressed) rather than an empty cell (missing).
        cells.push(value.unwrap_or_else(|| symbol.to_string()));
        cells.push(symbol.to_string());
        rows.push(RawRow {
            row: flat + 2,
            cells,
            problem: None,
        });
    }
    Ok(rows)
}

/// Rejects collections, bare dimensions and other JSON-stat versions. Both fields are
/// optional here: a document that has the 2.0 dataset shape is read even if they are left out.
fn check_class_and_version(top: &Map<String, Value>) -> Result<(), FormatError> {
    match top.get("class") {
        None | Some(Value::Null) => {}
        Some(Value::String(c)) if c == "dataset" => {}
        Some(Value::String(c)) => {
            return Err(FormatError::JsonStat(format!(
                "not a JSON-stat dataset: class is '{c}'; only class 'dataset' can be read"
            )));
        }
        Some(other) => {
            return Err(FormatError::JsonStat(format!(
                "'class' is {}, expected a string",
                kind(other)
            )));
        }
    }
    match top.get("version") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(v)) if v == "2" || v.starts_with("2.") => Ok(()),
        Some(Value::String(v)) => Err(FormatError::JsonStat(format!(
            "not JSON-stat 2.0: version is '{v}'; only 2.0 datasets can be read"
        ))),
        Some(other) => Err(FormatError::JsonStat(format!(
            "'version' is {}, expected a string",
            kind(other)
        ))),
    }
}

/// The dimension ids, in cube order.
fn ids(top: &Map<String, Value>) -> Result<Vec<&str>, FormatError> {
    let list = match top.get("id") {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(FormatError::JsonStat(format!(
                "'id' is {}, expected an array",
                kind(other)
            )));
        }
        None => {
            // JSON-stat 1.x kept id/size inside 'dimension' or wrapped datasets in a
            // bundle; say so, as that is the likely cause of a missing 'id'.
            let v1_dataset = top.get("dimension").is_some_and(|d| d.get("id").is_some());
            let v1_bundle = top.values().any(|v| v.get("dimension").is_some());
            let hint = if v1_dataset || v1_bundle {
                " (this looks like JSON-stat 1.x; only 2.0 datasets can be read)"
            } else {
                ""
            };
            return Err(FormatError::JsonStat(format!(
                "not JSON-stat: missing 'id'{hint}"
            )));
        }
    };
    let mut ids = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let Value::String(id) = v else {
            return Err(FormatError::JsonStat(format!(
                "id[{i}] is {}, expected a string",
                kind(v)
            )));
        };
        if ids.contains(&id.as_str()) {
            return Err(FormatError::JsonStat(format!(
                "'id' lists dimension '{id}' twice"
            )));
        }
        ids.push(id.as_str());
    }
    Ok(ids)
}

/// The number of categories per dimension, one per id.
fn sizes(top: &Map<String, Value>, dims: usize) -> Result<Vec<usize>, FormatError> {
    let list = match top.get("size") {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(FormatError::JsonStat(format!(
                "'size' is {}, expected an array",
                kind(other)
            )));
        }
        None => {
            return Err(FormatError::JsonStat(
                "not JSON-stat: missing 'size'".into(),
            ));
        }
    };
    if list.len() != dims {
        return Err(FormatError::JsonStat(format!(
            "'size' has {} entries but 'id' has {dims}",
            list.len()
        )));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_u64()
                .and_then(|s| usize::try_from(s).ok())
                .ok_or_else(|| {
                    FormatError::JsonStat(format!(
                        "size[{i}] is {v}, expected a non-negative integer"
                    ))
                })
        })
        .collect()
}

/// The (code, label) of each category of dimension `id`, in position order.
fn categories(
    id: &str,
    entry: Option<&Value>,
    size: usize,
) -> Result<Vec<(String, String)>, FormatError> {
    let entry = entry.ok_or_else(|| {
        FormatError::JsonStat(format!(
            "dimension '{id}' is listed in 'id' but has no entry in 'dimension'"
        ))
    })?;
    let category = match entry.get("category") {
        Some(Value::Object(c)) => c,
        Some(other) => {
            return Err(FormatError::JsonStat(format!(
                "dimension '{id}': 'category' is {}, expected an object",
                kind(other)
            )));
        }
        None => {
            return Err(FormatError::JsonStat(format!(
                "dimension '{id}' has no 'category'"
            )));
        }
    };
    let labels = match category.get("label") {
        None | Some(Value::Null) => None,
        Some(Value::Object(l)) => Some(l),
        Some(other) => {
            return Err(FormatError::JsonStat(format!(
                "dimension '{id}': category.label is {}, expected an object",
                kind(other)
            )));
        }
    };
    let count_error =
        |n: usize| format!("dimension '{id}': category.index has {n} entries but size says {size}");
    let codes: Vec<&str> = match category.get("index") {
        // JSON-stat lets a one-category dimension leave out the index: its code is the
        // only key of the label object.
        None | Some(Value::Null) => match labels {
            Some(l) if l.len() == 1 => {
                if size != 1 {
                    return Err(FormatError::JsonStat(format!(
                        "dimension '{id}' has one category (no category.index, one category.label) but size says {size}"
                    )));
                }
                l.keys().map(String::as_str).collect()
            }
            Some(l) => {
                return Err(FormatError::JsonStat(format!(
                    "dimension '{id}' has no category.index and {} category labels; an index is required unless there is exactly one category",
                    l.len()
                )));
            }
            None => {
                return Err(FormatError::JsonStat(format!(
                    "dimension '{id}': category has neither 'index' nor 'label'"
                )));
            }
        },
        Some(Value::Array(list)) => {
            if list.len() != size {
                return Err(FormatError::JsonStat(count_error(list.len())));
            }
            let mut seen = HashSet::with_capacity(list.len());
            let mut codes = Vec::with_capacity(list.len());
            for (i, v) in list.iter().enumerate() {
                let Value::String(code) = v else {
                    return Err(FormatError::JsonStat(format!(
                        "dimension '{id}': category.index[{i}] is {}, expected a string",
                        kind(v)
                    )));
                };
                if !seen.insert(code.as_str()) {
                    return Err(FormatError::JsonStat(format!(
                        "dimension '{id}': category.index lists '{code}' twice"
                    )));
                }
                codes.push(code.as_str());
            }
            codes
        }
        Some(Value::Object(map)) => {
            if map.len() != size {
                return Err(FormatError::JsonStat(count_error(map.len())));
            }
            // With as many entries as positions, in range and never twice, the positions
            // are a permutation of 0..size and every slot gets filled.
            let mut slots: Vec<Option<&str>> = vec![None; size];
            for (code, v) in map {
                let p = v
                    .as_u64()
                    .and_then(|p| usize::try_from(p).ok())
                    .filter(|&p| p < size)
                    .ok_or_else(|| {
                        FormatError::JsonStat(format!(
                            "dimension '{id}': category.index gives '{code}' position {v}, expected an integer in 0..{size}"
                        ))
                    })?;
                if let Some(other) = slots[p] {
                    return Err(FormatError::JsonStat(format!(
                        "dimension '{id}': category.index gives position {p} to both '{other}' and '{code}'"
                    )));
                }
                slots[p] = Some(code.as_str());
            }
            slots.into_iter().flatten().collect()
        }
        Some(other) => {
            return Err(FormatError::JsonStat(format!(
                "dimension '{id}': category.index is {}, expected an array or an object",
                kind(other)
            )));
        }
    };
    codes
        .into_iter()
        .map(|code| {
            let label = match labels.and_then(|l| l.get(code)) {
                None | Some(Value::Null) => code.to_string(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => {
                    return Err(FormatError::JsonStat(format!(
                        "dimension '{id}': category.label of '{code}' is {}, expected a string",
                        kind(other)
                    )));
                }
            };
            Ok((code.to_string(), label))
        })
        .collect()
}

/// The number of cells of the cube (product of size), bounded by [`MAX_CELLS`].
fn cell_count(sizes: &[usize]) -> Result<usize, FormatError> {
    if sizes.contains(&0) {
        return Ok(0);
    }
    sizes
        .iter()
        .try_fold(1usize, |acc, &s| acc.checked_mul(s))
        .filter(|&n| n <= MAX_CELLS)
        .ok_or_else(|| {
            FormatError::JsonStat(format!("the cube has more than {MAX_CELLS} cells (product of size); it is too large to read"))
        })
}

/// Parses a key of a sparse `value`/`status` object as a flat index below `n`. Only the
/// plain decimal form is accepted, so that `"1"` and `"01"` cannot name one cell twice.
fn flat_key(key: &str, n: usize, what: &str) -> Result<usize, FormatError> {
    let plain = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'));
    match key.parse::<usize>() {
        Ok(i) if plain && i < n => Ok(i),
        Ok(_) if plain => Err(FormatError::JsonStat(format!(
            "{what} has key '{key}', but the cube has only {n} cells (product of size)"
        ))),
        _ => Err(FormatError::JsonStat(format!(
            "{what} has key '{key}', expected a flat index such as \"0\" or \"17\""
        ))),
    }
}

/// The value of every cell as text; `None` where null or absent.
fn values(v: Option<&Value>, n: usize, decimal: char) -> Result<Vec<Option<String>>, FormatError> {
    match v {
        Some(Value::Array(list)) => {
            if list.len() != n {
                return Err(FormatError::JsonStat(format!(
                    "value has {} entries, expected {n} (product of size)",
                    list.len()
                )));
            }
            list.iter()
                .enumerate()
                .map(|(i, v)| {
                    cell_value(v, decimal).map_err(|k| {
                        FormatError::JsonStat(format!(
                            "value[{i}] is {k}, expected a number or null"
                        ))
                    })
                })
                .collect()
        }
        Some(Value::Object(map)) => {
            let mut out = vec![None; n];
            for (key, v) in map {
                let i = flat_key(key, n, "value")?;
                out[i] = cell_value(v, decimal).map_err(|k| {
                    FormatError::JsonStat(format!(
                        "value '{key}' is {k}, expected a number or null"
                    ))
                })?;
            }
            Ok(out)
        }
        Some(other) => Err(FormatError::JsonStat(format!(
            "'value' is {}, expected an array or an object",
            kind(other)
        ))),
        None => Err(FormatError::JsonStat(
            "not JSON-stat: missing 'value'".into(),
        )),
    }
}

/// One value as text, or the kind of JSON it wrongly is.
fn cell_value(v: &Value, decimal: char) -> Result<Option<String>, &'static str> {
    match v {
        Value::Null => Ok(None),
        Value::Number(x) => Ok(Some(super::json_number_text(x, decimal))),
        // JSON-stat 2.0 allows string values; kept as written for the value parser to
        // judge. An empty one is just a missing value.
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(kind(other)),
    }
}

/// The status symbols of a dataset, in whichever of JSON-stat's shapes they came.
enum Status {
    /// No `status`.
    None,
    /// One symbol for every cell (a string, or an array of one).
    All(String),
    /// One optional symbol per cell.
    Each(Vec<Option<String>>),
}

impl Status {
    /// Reads `status` for a cube of `n` cells.
    fn read(v: Option<&Value>, n: usize) -> Result<Status, FormatError> {
        let symbol = |v: &Value, at: String| match v {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(FormatError::JsonStat(format!(
                "status {at} is {}, expected a string or null",
                kind(other)
            ))),
        };
        match v {
            None | Some(Value::Null) => Ok(Status::None),
            Some(Value::String(s)) => Ok(Status::All(s.clone())),
            // An array of one applies to every cell (as JSON-stat's reference toolkit reads it).
            Some(Value::Array(list)) if list.len() == 1 && n != 1 => {
                Ok(symbol(&list[0], "[0]".into())?.map_or(Status::None, Status::All))
            }
            Some(Value::Array(list)) => {
                if list.len() != n {
                    return Err(FormatError::JsonStat(format!(
                        "status has {} entries, expected {n} (one per value) or 1",
                        list.len()
                    )));
                }
                let each = list
                    .iter()
                    .enumerate()
                    .map(|(i, v)| symbol(v, format!("[{i}]")))
                    .collect::<Result<_, _>>()?;
                Ok(Status::Each(each))
            }
            Some(Value::Object(map)) => {
                let mut each = vec![None; n];
                for (key, v) in map {
                    let i = flat_key(key, n, "status")?;
                    each[i] = symbol(v, format!("'{key}'"))?;
                }
                Ok(Status::Each(each))
            }
            Some(other) => Err(FormatError::JsonStat(format!(
                "'status' is {}, expected a string, an array or an object",
                kind(other)
            ))),
        }
    }

    /// The symbol of cell `flat`, if it has a non-empty one.
    fn get(&self, flat: usize) -> Option<&str> {
        let s = match self {
            Status::None => None,
            Status::All(s) => Some(s.as_str()),
            Status::Each(v) => v.get(flat).and_then(Option::as_deref),
        };
        s.filter(|s| !s.is_empty())
    }
}

#[cfg(test)]
#[path = "jsonstat_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "jsonstat_refusal_tests.rs"]
mod refusal_tests;
