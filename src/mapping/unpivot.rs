//! `[unpivot]`: value columns (one per kön, say) turned into rows before mapping, each
//! with the former header and the cell in two new columns.

use super::MappingError;
use crate::config::pipeline::Pipeline;
use crate::format::RawTable;

/// Applies `[unpivot]`: each listed column becomes a row with two new columns.
pub fn apply(pipeline: &Pipeline, table: &RawTable) -> Result<RawTable, MappingError> {
    let Some(u) = &pipeline.unpivot else {
        return Ok(table.clone());
    };
    let idx: Vec<(usize, &String)> = u
        .columns
        .iter()
        .map(|c| {
            table
                .column(c)
                .map(|i| (i, c))
                .ok_or_else(|| MappingError::NoColumn {
                    at: "unpivot.columns".into(),
                    name: c.clone(),
                    found: crate::format::quote(&table.columns.join(", ")),
                })
        })
        .collect::<Result<_, _>>()?;
    let mut out = RawTable {
        head: table.head.clone(),
        columns: table.columns.clone(),
        rows: Vec::new(),
        dropped: table.dropped,
    };
    out.columns.push(u.name_column.clone());
    out.columns.push(u.value_column.clone());
    for r in &table.rows {
        // A row marked for quarantine is quarantined once, not once per value column.
        if r.problem.is_some() {
            out.rows.push(r.clone());
            continue;
        }
        for (i, name) in &idx {
            let mut cells = r.cells.clone();
            cells.resize(table.columns.len(), String::new());
            cells.push((*name).clone());
            cells.push(r.cells.get(*i).cloned().unwrap_or_default());
            out.rows.push(crate::format::RawRow {
                row: r.row,
                cells,
                problem: r.problem.clone(),
            });
        }
    }
    Ok(out)
}
