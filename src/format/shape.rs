//! The shaping every format shares, done once: the rows of a file, however decoded,
//! become a head (the rows down to the last header row), column names (header rows
//! joined, merged group headers carried right) and data rows, with blank, trailing and
//! filtered rows dropped and rows of the wrong width marked for quarantine.

use std::collections::VecDeque;

use super::{FormatError, RawRow, RawTable, TableOptions, quote};

/// Turns the rows of a file into header + data according to the shared options:
/// the rows down to the last header row form the head; blank rows are skipped; the
/// last `skip_trailing_rows` data rows and rows matching `drop_rows_where` are dropped.
pub(super) fn shape<E: From<FormatError>>(
    rows: impl Iterator<Item = Result<RawRow, FormatError>>,
    options: &TableOptions,
    chunk_rows: usize,
    on_chunk: &mut dyn FnMut(RawTable) -> Result<(), E>,
) -> Result<usize, E> {
    let last_header = *options.header_rows.last().unwrap_or(&1);
    let mut head: Vec<RawRow> = Vec::new();
    let mut table: Option<RawTable> = None;
    let mut filters = Vec::new();
    // Data rows held back until it is known they are not among the trailing rows.
    let mut held: VecDeque<RawRow> = Default::default();
    let mut chunk: Vec<RawRow> = Vec::new();
    let mut dropped = 0;
    // Non-blank rows below the header, the trailer included.
    let mut data_rows = 0;
    let mut flush = |chunk: &mut Vec<RawRow>, table: &RawTable| {
        on_chunk(RawTable {
            rows: std::mem::take(chunk),
            ..table.clone()
        })
    };
    for row in rows {
        let row = row?;
        if table.is_none() {
            if row.row <= last_header {
                head.push(row);
                continue;
            }
            let t = header(std::mem::take(&mut head), options)?;
            filters = row_filters(&t, options)?;
            table = Some(t);
        }
        let Some(t) = &table else {
            continue;
        };
        if is_blank(&row) {
            continue;
        }
        data_rows += 1;
        push_data(
            row,
            t.columns.len(),
            options,
            &filters,
            &mut held,
            &mut chunk,
            &mut dropped,
        );
        if chunk.len() >= chunk_rows {
            flush(&mut chunk, t)?;
        }
    }
    let table = match table {
        Some(t) => t,
        None if head.iter().any(|r| r.row == last_header) => header(head, options)?,
        None => return Err(FormatError::NoHeaderRow { row: last_header }.into()),
    };
    // What is still held back is the trailer, unless it was not read as one row: a stray
    // quote that ran to the end of the file took the trailer with it, and dropping that
    // row would drop every row it swallowed.
    if let Some(r) = held.iter().find(|r| r.problem.is_some()) {
        return Err(FormatError::TrailerSwallowed {
            row: r.row,
            problem: r.problem.clone().unwrap_or_default(),
        }
        .into());
    }
    check_trailer(&held, data_rows - held.len(), options)?;
    dropped += held.len();
    flush(&mut chunk, &table)?;
    Ok(dropped)
}

/// Whether a row has nothing but empty cells (skipped wherever it is).
fn is_blank(row: &RawRow) -> bool {
    row.cells.iter().all(|c| c.trim().is_empty())
}

/// The rows `skip_trailing_rows` drops must match `trailing_row_matches`: a file cut off
/// in transfer would otherwise lose its last data rows as if they were the trailer. A
/// count the trailer declares (group `rows`) must be the number of data rows read.
fn check_trailer(
    held: &VecDeque<RawRow>,
    data_rows: usize,
    options: &TableOptions,
) -> Result<(), FormatError> {
    let Some(re) = &options.trailing_row_matches else {
        return Ok(());
    };
    for r in held {
        let text = r.cells.join(";");
        let Some(found) = re.captures(&text) else {
            return Err(FormatError::NotTrailer {
                row: r.row,
                pattern: re.as_str().to_string(),
                text: quote(&text),
            });
        };
        if let Some(declared) = found.name("rows") {
            let n: usize =
                declared
                    .as_str()
                    .trim()
                    .parse()
                    .map_err(|_| FormatError::TrailerCount {
                        row: r.row,
                        count: quote(declared.as_str()),
                    })?;
            if n != data_rows {
                return Err(FormatError::TrailerMismatch {
                    row: r.row,
                    declared: n,
                    found: data_rows,
                });
            }
        }
    }
    Ok(())
}

/// Takes one non-blank data row: the newest `skip_trailing_rows` are held
/// back, rows released from there go through `drop_rows_where` and the width check
/// (`width`: the header's columns) into `chunk`.
fn push_data(
    row: RawRow,
    width: usize,
    options: &TableOptions,
    filters: &[(usize, &regex::Regex)],
    held: &mut VecDeque<RawRow>,
    chunk: &mut Vec<RawRow>,
    dropped: &mut usize,
) {
    held.push_back(row);
    if held.len() <= options.skip_trailing_rows {
        return;
    }
    let Some(r) = held.pop_front() else {
        return;
    };
    if filters
        .iter()
        .any(|(i, re)| r.cells.get(*i).is_some_and(|c| re.is_match(c.trim())))
    {
        *dropped += 1;
    } else {
        chunk.push(checked_width(r, width));
    }
}

/// A data row with fewer fields than the header (a field lost, or rows merged by a stray
/// quote), or with more that are not empty, is not padded or cut to fit: it is marked
/// for quarantine.
fn checked_width(mut r: RawRow, width: usize) -> RawRow {
    if r.problem.is_some() {
        return r;
    }
    let n = r.cells.len();
    let extra = r.cells.iter().skip(width).any(|c| !c.trim().is_empty());
    if n < width || extra {
        r.problem = Some(format!(
            "the row has {n} fields where the header has {width} (a delimiter or quote out of place?)"
        ));
    }
    r
}

/// The head and the column names from the rows above the data.
fn header(head: Vec<RawRow>, options: &TableOptions) -> Result<RawTable, FormatError> {
    let width = head.iter().map(|r| r.cells.len()).max().unwrap_or(0);
    let header_rows: Vec<&RawRow> = options
        .header_rows
        .iter()
        .filter_map(|n| head.iter().find(|r| r.row == *n))
        .collect();
    if header_rows.len() != options.header_rows.len() {
        return Err(FormatError::HeaderRows {
            rows: options.header_rows.clone(),
        });
    }
    let mut columns = vec![String::new(); width];
    for (i, hr) in header_rows.iter().enumerate() {
        let is_last = i + 1 == header_rows.len();
        let mut carry = String::new();
        for (c, col) in columns.iter_mut().enumerate() {
            let mut cell = hr
                .cells
                .get(c)
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            // Group headers merged over several columns are written once: carry them right.
            if cell.is_empty() && !is_last {
                cell.clone_from(&carry);
            } else if !is_last {
                carry.clone_from(&cell);
            }
            if !cell.is_empty() {
                if !col.is_empty() {
                    col.push(' ');
                }
                col.push_str(&cell);
            }
        }
    }
    // Make duplicate names addressable.
    for i in 0..columns.len() {
        let n = columns[..i].iter().filter(|c| **c == columns[i]).count();
        if n > 0 && !columns[i].is_empty() {
            columns[i] = format!("{} ({})", columns[i], n + 1);
        }
    }
    Ok(RawTable {
        head: head.into_iter().map(|r| r.cells).collect(),
        columns,
        rows: Vec::new(),
        dropped: 0,
    })
}

/// `drop_rows_where` as (column index, pattern).
fn row_filters<'o>(
    table: &RawTable,
    options: &'o TableOptions,
) -> Result<Vec<(usize, &'o regex::Regex)>, FormatError> {
    options
        .drop_rows_where
        .iter()
        .map(|(name, re)| {
            let idx = table
                .column(name)
                .ok_or_else(|| FormatError::FilterColumn {
                    column: name.clone(),
                    header: quote(&table.columns.join(", ")),
                })?;
            Ok((idx, re))
        })
        .collect()
}

/// [`shape`] collected into one table, in chunks of two rows (tests of the shaping).
#[cfg(test)]
pub(crate) fn shape_all(
    rows: Vec<RawRow>,
    options: &TableOptions,
) -> Result<RawTable, FormatError> {
    super::collected(|on_chunk| shape(rows.into_iter().map(Ok), options, 2, on_chunk))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::value::NumberFormat;
    use regex::Regex;

    fn row(n: usize, cells: &[&str]) -> RawRow {
        RawRow {
            row: n,
            cells: cells.iter().map(|s| s.to_string()).collect(),
            problem: None,
        }
    }

    #[test]
    fn merged_group_headers_are_joined() {
        let rows = vec![
            row(1, &["Titel", "", "", ""]),
            row(2, &["", "", "Antal", ""]),
            row(3, &["Mått", "Ålder", "Kvinnor", "Män"]),
            row(4, &["Inskrivna", "16-24", "297", "490"]),
            row(5, &["", "", "", ""]),
            row(6, &["Källa: AF", "", "", ""]),
            row(7, &["Totalt", "", "1", "2"]),
        ];
        let options = TableOptions {
            header_rows: vec![2, 3],
            skip_trailing_rows: 1,
            trailing_row_matches: None,
            drop_rows_where: vec![("Mått".into(), Regex::new("^Källa").expect("re"))],
            numbers: NumberFormat::default(),
        };
        let t = shape_all(rows, &options).expect("shaped");
        assert_eq!(
            t.columns,
            vec!["Mått", "Ålder", "Antal Kvinnor", "Antal Män"]
        );
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0].row, 4);
        assert_eq!(t.dropped, 2);
        assert_eq!(t.head_cell(0, 0), Some("Titel"));
    }

    #[test]
    fn the_trailer_must_look_like_one_and_its_declared_count_must_hold() {
        let options = |re: &str| TableOptions {
            header_rows: vec![1],
            skip_trailing_rows: 1,
            trailing_row_matches: Some(Regex::new(re).expect("re")),
            drop_rows_where: vec![],
            numbers: NumberFormat::default(),
        };
        let file = |last: &[&str]| {
            vec![
                row(1, &["Personnr", "Belopp"]),
                row(2, &["a", "1"]),
                row(3, &["", ""]),
                row(4, &["b", "2"]),
                row(5, last),
            ]
        };
        let t = shape_all(file(&["Totalt", "2"]), &options("^Totalt;")).expect("a trailer");
        assert_eq!((t.rows.len(), t.dropped), (2, 1));
        // Cut off in transfer: the last data row is where the trailer was expected.
        let e = shape_all(file(&["c", "3"]), &options("^Totalt;"))
            .expect_err("no trailer")
            .to_string();
        assert!(
            e.contains("row 5") && e.contains("'^Totalt;'") && e.contains("c;3"),
            "{e}"
        );
        // A declared count is checked against the data rows (blank rows not counted).
        let declared = options("^Totalt (?<rows>[0-9]+) rader");
        let t = shape_all(file(&["Totalt 2 rader", ""]), &declared).expect("2 rows");
        assert_eq!(t.rows.len(), 2);
        let e = shape_all(file(&["Totalt 3 rader", ""]), &declared)
            .expect_err("3 declared")
            .to_string();
        assert!(
            e.contains("declares 3 data rows, but the file has 2"),
            "{e}"
        );
    }

    #[test]
    fn missing_header_row_is_an_error() {
        let options = TableOptions {
            header_rows: vec![3],
            skip_trailing_rows: 0,
            trailing_row_matches: None,
            drop_rows_where: vec![],
            numbers: NumberFormat::default(),
        };
        assert!(shape_all(vec![row(1, &["a"])], &options).is_err());
    }

    #[test]
    fn rows_short_of_the_header_or_with_extra_values_are_marked() {
        let rows = vec![
            row(1, &["Mått", "Kvinnor", "Män"]),
            row(2, &["Inskrivna", "297", "490"]),
            row(3, &["Inskrivna", "297"]),
            row(4, &["Inskrivna", "297", "490", "12"]),
            row(5, &["Inskrivna", "297", "490", " "]),
        ];
        let options = TableOptions {
            header_rows: vec![1],
            skip_trailing_rows: 0,
            trailing_row_matches: None,
            drop_rows_where: vec![],
            numbers: NumberFormat::default(),
        };
        let t = shape_all(rows, &options).expect("shaped");
        let marked: Vec<(usize, bool)> = t
            .rows
            .iter()
            .map(|r| (r.row, r.problem.is_some()))
            .collect();
        assert_eq!(marked, vec![(2, false), (3, true), (4, true), (5, false)]);
        let reason = t.rows[1].problem.as_deref().unwrap_or_default();
        assert!(
            reason.contains("2 fields where the header has 3"),
            "{reason}"
        );
    }
}
