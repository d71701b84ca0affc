//! Problems of a whole extract, found once it is mapped: a delivery of nothing, data for
//! a month that has not begun, an aggregate key given twice. Each fails the file, so the
//! last good data stays in place.

use std::collections::BTreeSet;

use crate::mapping::Mapped;

/// The first whole-file problem of `mapped` (`parts`: the partitions it feeds; `dropped`: rows dropped as trailer or by
/// `drop_rows_where`), as the message for the operator.
pub fn problem(
    mapped: &Mapped,
    parts: &BTreeSet<(String, String)>,
    dropped: usize,
) -> Option<String> {
    if mapped.records == 0 {
        // A delivery of nothing (a header alone, or a header and its total line) is far
        // more often a failed export than a month without anyone: it must not replace
        // the last good data, nor delete its quarantine.
        return Some(format!(
            "the extract has no data rows{}; the previous data stays",
            if dropped > 0 {
                format!(" ({dropped} dropped as trailer or by drop_rows_where)")
            } else {
                String::new()
            }
        ));
    }
    // Data for a month that has not begun is a wrong period column or file name, not
    // news: it would stand in the lake as a month nobody can have counted yet.
    let this_month = chrono::Local::now().format("%Y-%m").to_string();
    if let Some((_, p)) = parts.iter().find(|(_, p)| p.as_str() > this_month.as_str()) {
        return Some(format!(
            "the extract holds period {p}, after this month ({this_month}): is the period column or file name right?"
        ));
    }
    if let Some((a, b, key)) = crate::mapping::keys::first_duplicate(&mapped.keys) {
        return Some(format!(
            "rows {a} and {b} have the same key ({}): an aggregate holds one value per kommun, period, source, measure, kön, age, breakdown and unit (a repeated row, or a category cell merged over several rows?)",
            crate::format::quote(key)
        ));
    }
    None
}
