//! How a publish cuts the kommun-months it computes into chunks, each computed and held
//! together: whole kommuner, up to a number of kommun-months and of lake rows.
//!
//! A chunk's memory follows the lake rows it aggregates (the views' distinct counts group
//! by person within each cell), not its kommun-months: a month of 10 M rows (34,500 a
//! kommun-month) took 2.9 GB in chunks of 72 kommun-months, against 1.0 GB for a month of
//! 1 M rows (docs/performance.md). So a chunk is bounded in rows as well, counted from the
//! Parquet footers of the kommun-months it recomputes (those that keep their published
//! rows read a few hundred of them, not the lake).

use std::path::Path;

use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};

use super::state::KommunMonth;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::normalize::schema::TABLES;

/// What a chunk holds at most.
#[derive(Debug, Clone, Copy)]
pub(super) struct Budget {
    /// Kommun-months (`[publish] kommun_months_per_chunk`).
    pub kommun_months: usize,
    /// Lake rows of the kommun-months recomputed (`[publish] rows_per_chunk`).
    pub rows: u64,
}

/// The kommun-months `all` (in kommun order; `rows[i]` the lake rows `all[i]` is computed
/// from, 0 if it is not) cut into chunks within `budget`: whole kommuner while they fit;
/// a kommun over the budget alone is cut between its months, and a kommun-month over it
/// alone is a chunk of its own. Why whole kommuner: part of a chunk's cost is per kommun
/// named (`query::lake_table`), whatever the number of its months.
pub(super) fn chunks<'a>(
    all: &'a [KommunMonth],
    rows: &[u64],
    budget: Budget,
) -> Vec<&'a [KommunMonth]> {
    let fits = |(n, r): (usize, u64)| n <= budget.kommun_months && r <= budget.rows;
    let weight = |range: std::ops::Range<usize>| -> (usize, u64) {
        let r = rows.get(range.clone()).map_or(0, |r| r.iter().sum());
        (range.len(), r)
    };
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < all.len() {
        let end = i + all[i..].iter().take_while(|km| km.0 == all[i].0).count();
        if fits(weight(start..end)) {
            i = end;
            continue;
        }
        if i > start {
            chunks.push(&all[start..i]);
            start = i;
        }
        if !fits(weight(i..end)) {
            // The kommun alone is over the budget: its months a chunk at a time.
            for j in i + 1..end {
                if !fits(weight(start..j + 1)) {
                    chunks.push(&all[start..j]);
                    start = j;
                }
            }
        }
        i = end;
    }
    if start < all.len() {
        chunks.push(&all[start..]);
    }
    chunks
}

/// The rows of kommun-month `km` in the lake: the rows its partition files' footers
/// declare, over every canonical table.
pub(super) fn lake_rows(lake: &Lake, km: &KommunMonth) -> Result<u64> {
    let mut rows = 0;
    for t in TABLES {
        let dir = lake
            .table_dir(t.name)
            .join(format!("kommun={}", km.0))
            .join(format!("period={}", km.1));
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&dir, e)),
        };
        for entry in entries {
            let path = entry.map_err(|e| Error::io(&dir, e))?.path();
            if path.extension().is_some_and(|x| x == "parquet") {
                rows += footer_rows(&path)?;
            }
        }
    }
    Ok(rows)
}

/// The rows a Parquet file's footer declares (the footer alone is read).
fn footer_rows(path: &Path) -> Result<u64> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = SerializedFileReader::new(file)?;
    Ok(u64::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kms(spec: &[(&str, usize)]) -> Vec<KommunMonth> {
        spec.iter()
            .flat_map(|(k, months)| {
                (1..=*months).map(move |m| (k.to_string(), format!("2015-{m:02}")))
            })
            .collect()
    }

    /// The chunks as the kommuner in each, with the number of their months.
    fn cut(
        all: &[KommunMonth],
        rows: &[u64],
        kommun_months: usize,
        max_rows: u64,
    ) -> Vec<Vec<(String, usize)>> {
        let budget = Budget {
            kommun_months,
            rows: max_rows,
        };
        let got = chunks(all, rows, budget);
        assert_eq!(got.concat(), all, "every kommun-month once, in order");
        got.iter()
            .map(|c| {
                let mut k: Vec<(String, usize)> = Vec::new();
                for km in c.iter() {
                    match k.last_mut() {
                        Some((last, n)) if *last == km.0 => *n += 1,
                        _ => k.push((km.0.clone(), 1)),
                    }
                }
                k
            })
            .collect()
    }

    fn names(chunks: &[Vec<(String, usize)>]) -> Vec<Vec<String>> {
        chunks
            .iter()
            .map(|c| c.iter().map(|(k, n)| format!("{k}×{n}")).collect())
            .collect()
    }

    #[test]
    fn chunks_are_whole_kommuner_within_the_kommun_month_budget() {
        let all = kms(&[
            ("0180", 3),
            ("0181", 3),
            ("0182", 5),
            ("0183", 1),
            ("0184", 2),
        ]);
        let none = vec![0; all.len()];
        assert_eq!(
            names(&cut(&all, &none, 6, u64::MAX)),
            [
                vec!["0180×3", "0181×3"],
                vec!["0182×5", "0183×1"],
                vec!["0184×2"]
            ]
        );
        // A kommun over the budget alone is cut between its months.
        assert_eq!(
            names(&cut(&all, &none, 4, u64::MAX)),
            [
                vec!["0180×3"],
                vec!["0181×3"],
                vec!["0182×4"],
                vec!["0182×1", "0183×1", "0184×2"]
            ]
        );
        assert_eq!(cut(&all, &none, 1, u64::MAX).len(), all.len());
        assert_eq!(cut(&all, &none, 100, u64::MAX).len(), 1);
        assert!(
            chunks(
                &[],
                &[],
                Budget {
                    kommun_months: 10,
                    rows: 10
                }
            )
            .is_empty()
        );
    }

    #[test]
    fn chunks_are_bounded_in_rows_and_a_month_over_the_budget_is_alone() {
        let all = kms(&[("0180", 2), ("0181", 2), ("0182", 3), ("0183", 1)]);
        // 0182's second month alone is over the budget of 100 rows.
        let rows = [10, 10, 30, 30, 20, 150, 20, 60];
        assert_eq!(
            names(&cut(&all, &rows, 72, 100)),
            [
                vec!["0180×2", "0181×2"],
                vec!["0182×1"],
                vec!["0182×1"],
                vec!["0182×1", "0183×1"]
            ]
        );
        // Kommun-months that are not recomputed weigh nothing.
        assert_eq!(
            names(&cut(&all, &[0; 8], 72, 100)),
            [vec!["0180×2", "0181×2", "0182×3", "0183×1"]]
        );
    }
}
