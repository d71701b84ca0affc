//! The key of an aggregate row: one value per kommun, period, source, measure, kön, age,
//! breakdown and unit. Two rows of one extract with the same key are a problem of the
//! file (a repeated row, or a category cell merged over several rows that turned a
//! breakdown row into a second total), never two published rows.

use std::collections::HashMap;

use super::Cell;
use crate::normalize::schema::{FieldType, TableDef, TableKind};

/// Where the key's cells lie in a mapped row of `table` (every field but the value, in
/// the row layout `mapping` builds); `None` for record tables, whose rows are persons.
pub fn positions(table: &TableDef) -> Option<Vec<usize>> {
    if table.kind != TableKind::Aggregate {
        return None;
    }
    let mut at = 0;
    let mut keys = Vec::new();
    for fd in table.fields {
        match fd.ty {
            ty if ty.is_person() => {}
            // A value is four cells: number, text, status, token.
            FieldType::Value => at += 4,
            _ => {
                keys.push(at);
                at += 1;
            }
        }
    }
    Some(keys)
}

/// The key of one mapped row in its partition, as text for messages.
pub fn of(partition: &(String, String), row: &[Cell], positions: &[usize]) -> String {
    let mut parts = vec![partition.0.clone(), partition.1.clone()];
    parts.extend(positions.iter().map(|&i| match row.get(i) {
        Some(Cell::Text(t)) => t.clone(),
        Some(Cell::Null) | None => "–".to_string(),
        Some(other) => format!("{other:?}"),
    }));
    parts.join(", ")
}

/// The first key met twice, with both rows' numbers (rows in file order).
pub fn first_duplicate(keys: &[(String, usize)]) -> Option<(usize, usize, &str)> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
    for (key, row) in keys {
        if let Some(first) = seen.insert(key.as_str(), *row) {
            return Some((first, *row, key.as_str()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_repeated_key_is_found_with_both_rows() {
        let keys = vec![
            ("0880, 2015-05, af, K".to_string(), 4),
            ("0880, 2015-05, af, M".to_string(), 5),
            ("0880, 2015-05, af, K".to_string(), 9),
        ];
        assert_eq!(first_duplicate(&keys), Some((4, 9, "0880, 2015-05, af, K")));
        assert_eq!(first_duplicate(&keys[..2]), None);
    }

    #[test]
    fn only_aggregate_tables_have_keys() {
        let aggregat = crate::normalize::schema::table("aggregat").expect("table");
        let kaa = crate::normalize::schema::table("kaa").expect("table");
        assert!(positions(kaa).is_none());
        let p = positions(aggregat).expect("keys");
        assert!(p.len() >= 7, "{p:?}");
    }
}
