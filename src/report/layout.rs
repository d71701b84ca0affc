//! The rendered report's layout: sections, tables, row groups, figure cells
//! and chart data. Built once by [`super::sections::build`] and written by
//! every format, so all formats show the same figures.

use super::labels::{format_int, format_percent};
use super::{GoalRow, SourceRow};

/// One figure as shown in a table cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Figure {
    /// A number of persons.
    Count(i64),
    /// A share 0..1.
    Share(f64),
    /// Withheld: shown as "..", never as a number.
    Suppressed,
    /// No value delivered: shown as "–".
    Missing,
}

impl Figure {
    /// Human-readable Swedish text ("1 234", "9,6 %", "..", "–").
    pub fn display(&self) -> String {
        match self {
            Self::Count(n) => format_int(*n),
            Self::Share(s) => format_percent(*s),
            Self::Suppressed => "..".to_string(),
            Self::Missing => "–".to_string(),
        }
    }

    /// The figure as a plain number, if it is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Self::Count(n) => Some(*n as f64),
            Self::Share(s) => Some(*s),
            Self::Suppressed | Self::Missing => None,
        }
    }

    /// Machine-readable value (`data-value`): the integer, or the share's 0..1 value.
    pub fn raw(&self) -> Option<String> {
        match self {
            Self::Count(n) => Some(n.to_string()),
            Self::Share(s) => Some(s.to_string()),
            Self::Suppressed | Self::Missing => None,
        }
    }
}

/// Which field of a [`Cell`] a table column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `antal`.
    Antal,
    /// `andel`.
    Andel,
}

impl Field {
    /// "antal" or "andel" (the `data-field` attribute).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Antal => "antal",
            Self::Andel => "andel",
        }
    }
}

/// Identity of a figure in the published table.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct CellKey {
    /// Period the figure refers to.
    pub period: String,
    /// Measure code.
    pub matt: String,
    /// K, M or T.
    pub kon: String,
    /// Age.
    pub alder: String,
    /// Breakdown name or "total".
    pub dimension: String,
    /// Category code or "total".
    pub kategori: String,
}

/// One figure-carrying table cell.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureCell {
    /// Which published figure this is.
    pub key: CellKey,
    /// Which field of it.
    pub field: Field,
    /// The value.
    pub figure: Figure,
    /// The agency status when not "ok".
    pub status: Option<String>,
}

/// A table column: kön and field.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Swedish header, e.g. "Kvinnor" or "Andel män".
    pub label: String,
    /// K, M or T.
    pub kon: &'static str,
    /// Field shown.
    pub field: Field,
}

/// One table row: a label and one cell per column.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Row header (category, age or measure).
    pub label: String,
    /// Cells in column order.
    pub cells: Vec<FigureCell>,
}

/// A horizontal bar chart of one breakdown (the Totalt column).
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Deterministic id, unique in the report.
    pub id: String,
    /// Title (also the accessible name).
    pub title: String,
    /// One bar per category.
    pub bars: Vec<Bar>,
}

/// Rows under an optional group header, with an optional chart.
#[derive(Debug, Clone, PartialEq)]
pub struct RowGroup {
    /// Group header, e.g. "Utbildningsnivå, 16–24 år".
    pub label: Option<String>,
    /// Rows of the group.
    pub rows: Vec<Row>,
    /// Chart of the group's breakdown.
    pub chart: Option<BarChart>,
}

/// A wide table: rows = category/age, columns = kön (× field).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Deterministic id, unique in the report.
    pub id: String,
    /// Caption.
    pub caption: String,
    /// Header of the row-label column.
    pub row_header: String,
    /// Figure columns.
    pub columns: Vec<Column>,
    /// Row groups.
    pub groups: Vec<RowGroup>,
}

/// A goal of the period with the measure's time series.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalView {
    /// The follow-up row.
    pub goal: GoalRow,
    /// Deterministic id of the goal's chart.
    pub chart_id: String,
    /// The measure (matt/kon/alder, totals) over all periods, in time order.
    pub series: Vec<LinePoint>,
}

impl GoalView {
    /// The baseline and target reference lines of a goal.
    pub fn refs(&self) -> (Option<RefLine>, Option<RefLine>) {
        let g = &self.goal;
        let baseline = g.baslinje_varde.map(|v| RefLine {
            label: "Baslinje".to_string(),
            value: v as f64,
            period: g.baslinje.clone(),
        });
        let target = g.malvarde.map(|v| RefLine {
            label: "Mål".to_string(),
            value: v,
            period: g.malperiod.clone(),
        });
        (baseline, target)
    }
}

/// The content of a section.
#[derive(Debug, Clone, PartialEq)]
pub enum SectionBody {
    /// Figure tables.
    Tables(Vec<Table>),
    /// Goal follow-up.
    Goals(Vec<GoalView>),
}

/// One numbered section of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Number as shown (1-based, only shown sections counted).
    pub number: usize,
    /// Stable key, e.g. "kaa".
    pub key: &'static str,
    /// Swedish heading.
    pub title: String,
    /// Worksheet name (≤ 31 characters).
    pub sheet_name: String,
    /// Content.
    pub body: SectionBody,
}

impl Section {
    /// The section's figure tables (none for the goal section).
    pub fn tables(&self) -> &[Table] {
        match &self.body {
            SectionBody::Tables(tables) => tables,
            SectionBody::Goals(_) => &[],
        }
    }
}

/// The whole report, ready for any format.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Main heading.
    pub title: String,
    /// Kommun and period line.
    pub subtitle: String,
    /// Sections with content, in order.
    pub sections: Vec<Section>,
    /// Sources, sorted and deduplicated.
    pub sources: Vec<SourceRow>,
    /// Footer notes (suppression, signs, period fallbacks).
    pub notes: Vec<String>,
    /// Generation timestamp.
    pub generated_at: String,
}

/// All table cells of the report, in document order.
pub fn figure_cells(report: &Report) -> impl Iterator<Item = &FigureCell> {
    report
        .sections
        .iter()
        .flat_map(Section::tables)
        .flat_map(|t| &t.groups)
        .flat_map(|g| &g.rows)
        .flat_map(|r| &r.cells)
}

/// One bar: a category and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Category label.
    pub label: String,
    /// Value; suppressed/missing values get no length.
    pub value: Figure,
}

/// One point of a time series.
#[derive(Debug, Clone, PartialEq)]
pub struct LinePoint {
    /// Period, "YYYY-MM" or "YYYY".
    pub period: String,
    /// Value at the period.
    pub value: Figure,
}

/// A horizontal reference line (baseline or target).
#[derive(Debug, Clone, PartialEq)]
pub struct RefLine {
    /// Text drawn next to the line, e.g. "Mål".
    pub label: String,
    /// Value the line is drawn at.
    pub value: f64,
    /// Period it refers to (a marker is drawn there when inside the axis).
    pub period: String,
}
