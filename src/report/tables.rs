//! Builds one table from cells: its columns (Kvinnor/Män/Totalt, optionally
//! as shares), the overview table of a section (totals by age band, one row
//! per measure and band) and the detail table of one measure (one row group
//! per breakdown and age, with a bar chart per breakdown).

use super::Cell;

use super::labels::{
    age_label, age_order, category_label, category_order, dimension_label, dimension_order,
    is_single_age, measure_label, measure_order,
};
use super::layout::{
    Bar, BarChart, CellKey, Column, Field, Figure, FigureCell, Row, RowGroup, Table,
};
use std::collections::BTreeSet;

/// Whether a measure's breakdowns get bar charts: all of them, except that in
/// Försörjningsstöd only the recipients (the orsak measures are tables only).
fn charted(matt: &str) -> bool {
    !matt.starts_with("fs_") || matt == "fs_mottagare"
}

const KON: [(&str, &str, &str); 3] = [
    ("K", "Kvinnor", "Andel kvinnor"),
    ("M", "Män", "Andel män"),
    ("T", "Totalt", "Andel totalt"),
];

/// Kvinnor/Män/Totalt columns: counts when `antal`, then shares when `andel`.
pub fn columns(antal: bool, andel: bool) -> Vec<Column> {
    let fields = [(antal, Field::Antal), (andel, Field::Andel)];
    fields
        .iter()
        .filter(|(on, _)| *on)
        .flat_map(|(_, field)| {
            KON.iter().map(move |(kon, count, share)| Column {
                label: if *field == Field::Antal { count } else { share }.to_string(),
                kon,
                field: *field,
            })
        })
        .collect()
}

/// Lowercase ASCII id fragment: letters/digits kept, å/ä→a, ö→o, others → '-'.
pub fn slug(text: &str) -> String {
    text.chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            'å' | 'ä' | 'Å' | 'Ä' => 'a',
            'ö' | 'Ö' => 'o',
            _ => '-',
        })
        .collect()
}

/// The figure of `field` of a cell: ".." when withheld, "–" when absent.
pub fn figure_of(cell: Option<&Cell>, field: Field) -> Figure {
    match (cell, field) {
        (None, _) => Figure::Missing,
        (Some(c), _) if c.is_suppressed() => Figure::Suppressed,
        (Some(c), Field::Antal) => c.antal.map_or(Figure::Missing, Figure::Count),
        (Some(c), Field::Andel) => c.andel.map_or(Figure::Missing, Figure::Share),
    }
}

/// Builds the row of one (matt, alder, dimension, kategori) from its K/M/T cells.
fn make_row(label: String, proto: &Cell, cells: &[&Cell], columns: &[Column]) -> Row {
    let cells = columns
        .iter()
        .map(|col| {
            let cell = cells.iter().copied().find(|c| {
                c.kon == col.kon
                    && c.alder == proto.alder
                    && c.dimension == proto.dimension
                    && c.kategori == proto.kategori
                    && c.matt == proto.matt
            });
            FigureCell {
                key: CellKey {
                    period: proto.period.clone(),
                    matt: proto.matt.clone(),
                    kon: col.kon.to_string(),
                    alder: proto.alder.clone(),
                    dimension: proto.dimension.clone(),
                    kategori: proto.kategori.clone(),
                },
                field: col.field,
                figure: figure_of(cell, col.field),
                status: cell.filter(|c| c.status != "ok").map(|c| c.status.clone()),
            }
        })
        .collect();
    Row { label, cells }
}

/// Distinct (matt, alder, dimension, kategori) of `cells`, sorted for display.
fn row_protos<'a>(cells: &[&'a Cell]) -> Vec<&'a Cell> {
    let mut seen = BTreeSet::new();
    let mut out: Vec<&Cell> = Vec::new();
    for c in cells {
        if seen.insert((&c.matt, &c.alder, &c.dimension, &c.kategori)) {
            out.push(c);
        }
    }
    out.sort_by_cached_key(|c| {
        let dim = if c.dimension == "total" {
            (0, String::new())
        } else {
            dimension_order(&c.dimension)
        };
        (
            measure_order(&c.matt),
            dim,
            age_order(&c.alder),
            category_order(&c.kategori),
        )
    });
    out
}

/// Whether the cell is a total (no breakdown).
pub fn is_total(c: &Cell) -> bool {
    c.dimension == "total" && c.kategori == "total"
}

/// The detail table of one measure: an "Ålder" group of its totals, then one
/// group per (breakdown, age) with a bar chart of the Totalt column.
pub fn detail_table(
    section: &str,
    matt: &str,
    cells: &[&Cell],
    columns: &[Column],
    when: &str,
) -> Table {
    let mut groups: Vec<RowGroup> = Vec::new();
    for proto in row_protos(cells) {
        let total = is_total(proto);
        let label = if total {
            "Ålder".to_string()
        } else {
            format!(
                "{}, {}",
                dimension_label(&proto.dimension),
                age_label(&proto.alder)
            )
        };
        if groups.last().and_then(|g| g.label.as_deref()) != Some(label.as_str()) {
            groups.push(RowGroup {
                label: Some(label),
                rows: Vec::new(),
                chart: None,
            });
        }
        let row_label = if total {
            age_label(&proto.alder)
        } else {
            category_label(&proto.kategori)
        };
        let row = make_row(row_label, proto, cells, columns);
        if let Some(group) = groups.last_mut() {
            group.rows.push(row);
        }
    }
    let charted = charted(matt);
    for group in groups
        .iter_mut()
        .filter(|g| charted && g.label.as_deref() != Some("Ålder"))
    {
        if group.rows.len() < 2 {
            continue;
        }
        let bars = group
            .rows
            .iter()
            .map(|r| Bar {
                label: r.label.clone(),
                value: total_figure(r),
            })
            .collect();
        let first = group.rows[0]
            .cells
            .first()
            .map(|c| c.key.clone())
            .unwrap_or_default();
        group.chart = Some(BarChart {
            id: slug(&format!("c-{matt}-{}-{}", first.dimension, first.alder)),
            title: format!(
                "{}: {} (totalt), {when}",
                measure_label(matt),
                group.label.clone().unwrap_or_default()
            ),
            bars,
        });
    }
    Table {
        id: slug(&format!("t-{}-{matt}", section)),
        caption: format!("{}, {when}", measure_label(matt)),
        row_header: "Kategori".to_string(),
        columns: columns.to_vec(),
        groups,
    }
}

/// The overview table: one row per measure and age band (totals only).
pub fn overview_table(
    id: String,
    caption: String,
    cells: &[&Cell],
    columns: &[Column],
) -> Option<Table> {
    let totals: Vec<&Cell> = cells
        .iter()
        .copied()
        .filter(|c| is_total(c) && !is_single_age(&c.alder))
        .collect();
    let rows: Vec<Row> = row_protos(&totals)
        .into_iter()
        .map(|p| {
            let mut label = measure_label(&p.matt);
            if !p.alder.starts_with("ak") {
                label = format!("{label}, {}", age_label(&p.alder));
            }
            make_row(label, p, &totals, columns)
        })
        .collect();
    (!rows.is_empty()).then(|| Table {
        id,
        caption,
        row_header: "Mått".to_string(),
        columns: columns.to_vec(),
        groups: vec![RowGroup {
            label: None,
            rows,
            chart: None,
        }],
    })
}

fn total_figure(row: &Row) -> Figure {
    row.cells
        .iter()
        .find(|c| c.key.kon == "T" && c.field == Field::Antal)
        .map_or(Figure::Missing, |c| c.figure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::total_cell;

    fn cell(kon: &str, kategori: &str, antal: Option<i64>, skyddad: bool) -> Cell {
        let mut c = total_cell(
            &format!("2015-05 kaa_inskrivna {kon} 16-20"),
            antal,
            skyddad,
        );
        if kategori != "total" {
            (c.dimension, c.kategori) = ("aktivitet".into(), kategori.into());
        }
        c
    }

    #[test]
    fn columns_and_figures() {
        let labels: Vec<_> = columns(true, false).into_iter().map(|c| c.label).collect();
        assert_eq!(labels, ["Kvinnor", "Män", "Totalt"]);
        assert_eq!(columns(false, true)[2].label, "Andel totalt");
        let hidden = Cell {
            antal: Some(3),
            skyddad: true,
            ..Cell::default()
        };
        assert_eq!(figure_of(Some(&hidden), Field::Antal), Figure::Suppressed);
        assert_eq!(figure_of(None, Field::Antal), Figure::Missing);
        assert_eq!(
            slug("t-Förvaltning Äldre_omsorg"),
            "t-forvaltning-aldre-omsorg"
        );
    }

    #[test]
    fn detail_table_groups_rows_and_charts() {
        let owned = [
            cell("T", "total", Some(115), false),
            cell("K", "arbete", None, true),
            cell("T", "arbete", Some(12), false),
            cell("T", "studier", Some(10), false),
        ];
        let cells: Vec<&Cell> = owned.iter().collect();
        let table = detail_table(
            "kaa",
            "kaa_inskrivna",
            &cells,
            &columns(true, false),
            "maj 2015",
        );
        assert_eq!(table.id, "t-kaa-kaa-inskrivna");
        assert_eq!(table.groups.len(), 2);
        let rows = &table.groups[1].rows;
        // Known categories keep the label table's order (Studier before Arbete).
        assert_eq!(rows[0].label, "Studier");
        let arbete: Vec<_> = rows[1].cells.iter().map(|c| c.figure).collect();
        assert_eq!(
            arbete,
            [Figure::Suppressed, Figure::Missing, Figure::Count(12)]
        );
        let chart = table.groups[1].chart.as_ref().expect("chart");
        assert_eq!(chart.id, "c-kaa-inskrivna-aktivitet-16-20");
        assert_eq!(chart.bars.len(), 2);
        assert!(table.groups[0].chart.is_none());
    }
}
