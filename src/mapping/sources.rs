//! Where each mapped field's text comes from in one extract: a column of the header, or
//! a value fixed for the whole file (a constant, part of the file name, a cell above the
//! header). Resolved once per extract, before any row: a column that is missing or
//! named twice, or a fixed value that does not parse, would fail every row the same
//! way, so it fails the file instead.

use super::error::MappingError;
use super::row::{check_fixed, raw_value};
use crate::config::pipeline::{Origin, Pipeline};
use crate::format::RawTable;

/// The text of one field for every row of an extract.
pub(super) enum Source {
    /// The cell of this column (index, name as configured).
    Column(usize, String),
    /// The same text in every row.
    Fixed(String),
}

/// Resolves every field of `pipeline` against `table` (decoded from `file_name`), in
/// the order of `pipeline.fields`.
pub(super) fn resolve(
    pipeline: &Pipeline,
    table: &RawTable,
    file_name: &str,
) -> Result<Vec<Source>, MappingError> {
    let mut sources = Vec::with_capacity(pipeline.fields.len());
    for m in &pipeline.fields {
        let at = format!("fields.{}", m.field.name);
        let src = match &m.origin {
            Origin::Column(name) => {
                let i = table.column(name).ok_or_else(|| MappingError::NoColumn {
                    at: at.clone(),
                    name: name.clone(),
                    found: crate::format::quote(&table.columns.join(", ")),
                })?;
                // The header names it twice (the second is addressable as "name (2)"):
                // taking the first silently could read the wrong column.
                let twin = format!("{} (2)", table.columns[i]);
                if table.column(&twin).is_some() {
                    return Err(MappingError::TwinColumn {
                        at,
                        name: name.clone(),
                        first: table.columns[i].clone(),
                        twin,
                    });
                }
                Source::Column(i, name.clone())
            }
            Origin::Constant(c) => Source::Fixed(c.clone()),
            Origin::FileName(re) => {
                let caps = re
                    .captures(file_name)
                    .ok_or_else(|| MappingError::FileName {
                        at: at.clone(),
                        pattern: re.as_str().to_string(),
                    })?;
                Source::Fixed(expand(&caps, m.template.as_deref()))
            }
            Origin::Cell(r, c) => {
                Source::Fixed(table.head_cell(*r, *c).map(str::to_string).ok_or_else(|| {
                    MappingError::Cell {
                        at: at.clone(),
                        cell: cell_name(*r, *c),
                    }
                })?)
            }
        };
        if let Source::Fixed(v) = &src {
            // Fixed values must be valid, or every row would be rejected for the same reason.
            if let Err(e) = raw_value(m, v).and_then(|v| v.map_or(Ok(()), |v| check_fixed(m, &v))) {
                return Err(MappingError::Fixed {
                    at,
                    reason: e.reason,
                });
            }
        }
        sources.push(src);
    }
    Ok(sources)
}

/// The text a pattern's match gives: the template filled in, or the first group (the
/// whole match without groups).
pub(super) fn expand(caps: &regex::Captures<'_>, template: Option<&str>) -> String {
    match template {
        Some(t) => {
            let mut out = String::new();
            caps.expand(t, &mut out);
            out
        }
        None => caps
            .get(1)
            .or_else(|| caps.get(0))
            .map_or(String::new(), |m| m.as_str().to_string()),
    }
}

/// A 0-based (row, column) as Excel names the cell (`B2`).
fn cell_name(row: usize, col: usize) -> String {
    let mut letters = String::new();
    let mut c = col + 1;
    while c > 0 {
        letters.insert(0, char::from(b'A' + ((c - 1) % 26) as u8));
        c = (c - 1) / 26;
    }
    format!("{letters}{}", row + 1)
}
