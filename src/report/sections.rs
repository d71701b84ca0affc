//! Turns the flat input rows into the report's sections and tables, shared by
//! every output format so that all of them show the same figures.
//!
//! Owns which measure goes to which section (by code prefix, unknown ones to
//! "Övriga mått"), which period's rows are shown (the report period; for a
//! measure with only yearly rows, e.g. Kolada, the year of a monthly period),
//! the goal section with its time series, the notes and the sources. The
//! tables themselves are built by [`super::tables`]. Every figure of the
//! period lands in at least one table.

use super::labels::{
    is_single_age, measure_label, measure_order, period_label, period_month_index,
};
use super::layout::{Field, GoalView, LinePoint, Report, Section, SectionBody, Table};
use super::tables::{columns, detail_table, figure_of, is_total, overview_table, slug};
use super::{Cell, GoalRow, ReportInput};
use std::collections::BTreeSet;

struct SectionDef {
    key: &'static str,
    title: &'static str,
    sheet: &'static str,
    prefixes: &'static [&'static str],
    shares: bool,
}

#[rustfmt::skip]
const DEFS: &[SectionDef] = &[
    SectionDef { key: "malgrupp", title: "Målgruppens storlek", sheet: "Målgruppen", prefixes: &["malgrupp_"], shares: true },
    SectionDef { key: "kaa", title: "KAA – kommunernas aktivitetsansvar", sheet: "KAA", prefixes: &["kaa_"], shares: false },
    SectionDef { key: "fs", title: "Försörjningsstöd", sheet: "Försörjningsstöd", prefixes: &["fs_"], shares: false },
    SectionDef { key: "af", title: "Arbetsförmedlingen", sheet: "Arbetsförmedlingen", prefixes: &["af_"], shares: false },
    SectionDef { key: "timanstallda", title: "Undersysselsatta / timanställda", sheet: "Timanställda", prefixes: &["timanstallda"], shares: false },
    SectionDef { key: "skola", title: "Skola och UVAS", sheet: "Skola och UVAS", prefixes: &["uvas", "ak9_", "gy_"], shares: true },
    SectionDef { key: "uppfoljning", title: "Uppföljning av insatser", sheet: "Uppföljning", prefixes: &["deltagare", "avslut", "sex_man_", "anordnare_", "faktaruta_"], shares: true },
    SectionDef { key: "ovrigt", title: "Övriga mått", sheet: "Övriga mått", prefixes: &[], shares: false },
];

/// What a source delivers when it delivers everything: (measure that shows the source
/// delivered the month, the measure and breakdown expected with it, the note's words).
/// The views publish no zeros for what an extract did not deliver, so an absent
/// breakdown is named in the notes as not delivered, never left to read as "nobody".
#[rustfmt::skip]
const DELIVERED_WITH: &[(&str, &str, &str, &str)] = &[
    ("fs_mottagare", "fs_mottagare", "utbildning", "Försörjningsstöd per utbildningsnivå"),
    ("fs_mottagare", "fs_mottagare", "funktionsnedsattning", "Försörjningsstöd per funktionsnedsättning"),
    ("fs_mottagare", "fs_mottagare", "fodelseland", "Försörjningsstöd per födelseland"),
    ("fs_arbetsloshet", "fs_arbetsloshet_endast_fs", "total", "Arbetslöshet per delorsak"),
    ("kaa_inskrivna", "kaa_inskrivna", "registreringsorsak", "KAA per registreringsorsak"),
    ("kaa_inskrivna", "kaa_planerad_avregistrering", "total", "KAA, planerad avregistrering"),
];

/// Notes for the breakdowns of [`DELIVERED_WITH`] absent from the report's period.
fn not_delivered(input: &ReportInput) -> Vec<String> {
    let here = |matt: &str, dimension: &str| {
        input
            .cells
            .iter()
            .any(|c| c.period == input.period && c.matt == matt && c.dimension == dimension)
    };
    DELIVERED_WITH
        .iter()
        .filter(|(anchor, matt, dimension, _)| here(anchor, "total") && !here(matt, dimension))
        .map(|(_, _, _, what)| format!("{what}: ej levererat av källan (inte noll)."))
        .collect()
}

fn def_of(matt: &str) -> &'static SectionDef {
    DEFS.iter()
        .find(|d| d.prefixes.iter().any(|p| matt.starts_with(p)))
        .unwrap_or(&DEFS[DEFS.len() - 1])
}

/// The period whose rows of `matt` the report shows: the report period, or
/// for annual measures in a monthly report the same year.
fn resolve_period<'a>(cells: &'a [Cell], matt: &str, period: &'a str) -> Option<&'a str> {
    let of_matt = |p: &str| cells.iter().any(|c| c.matt == matt && c.period == p);
    if of_matt(period) {
        return Some(period);
    }
    let year = period.split_once('-').map_or(period, |(year, _)| year);
    if year != period && of_matt(year) {
        return Some(year);
    }
    // The follow-up's fact box covers an insats' whole life.
    of_matt("alla").then_some("alla")
}

/// Measures of `def` with the rows of their resolved period (see [`resolve_period`]).
fn section_cells<'a>(
    def: &SectionDef,
    input: &'a ReportInput,
    notes: &mut Vec<String>,
) -> Vec<(String, Vec<&'a Cell>)> {
    let matts: BTreeSet<(usize, String)> = input
        .cells
        .iter()
        .filter(|c| std::ptr::eq(def_of(&c.matt), def))
        .map(|c| measure_order(&c.matt))
        .collect();
    let mut out = Vec::new();
    for (_, matt) in matts {
        let Some(p) = resolve_period(&input.cells, &matt, &input.period) else {
            continue;
        };
        if p != input.period {
            notes.push(format!("{}: årsuppgift för {p}.", measure_label(&matt)));
        }
        let cells = input
            .cells
            .iter()
            .filter(|c| c.matt == matt && c.period == p);
        let cells = cells.collect();
        out.push((matt, cells));
    }
    out
}

fn build_tables(def: &SectionDef, input: &ReportInput, notes: &mut Vec<String>) -> Vec<Table> {
    let by_matt = section_cells(def, input, notes);
    let all: Vec<&Cell> = by_matt
        .iter()
        .flat_map(|(_, c)| c.iter().copied())
        .collect();
    if all.is_empty() {
        return Vec::new();
    }
    let has_antal = all.iter().any(|c| c.antal.is_some() || c.skyddad);
    let columns = columns(has_antal || !def.shares, def.shares);
    let periods: BTreeSet<&str> = all.iter().map(|c| c.period.as_str()).collect();
    let when: Vec<String> = periods.iter().map(|p| period_label(p)).collect();
    let when = when.join(", ");
    let detailed: Vec<&(String, Vec<&Cell>)> = by_matt
        .iter()
        .filter(|(_, cells)| {
            cells
                .iter()
                .any(|c| !is_total(c) || is_single_age(&c.alder))
        })
        .collect();
    let mut tables = Vec::new();
    let title = format!("{}, {when}", def.title);
    let id = slug(&format!("t-{}-oversikt", def.key));
    if let Some(overview) = overview_table(id, title, &all, &columns) {
        // A lone measure whose detail table starts with the same totals needs no overview.
        if by_matt.len() > 1 || detailed.is_empty() {
            tables.push(overview);
        }
    }
    for (matt, cells) in detailed {
        tables.push(detail_table(def.key, matt, cells, &columns, &when));
    }
    tables
}

fn goal_views(input: &ReportInput) -> Vec<GoalView> {
    let mut goals: Vec<&GoalRow> = input
        .goals
        .iter()
        .filter(|g| g.period == input.period)
        .collect();
    goals.sort_by(|a, b| {
        (&a.mal_id, &a.matt, &a.kon, &a.alder).cmp(&(&b.mal_id, &b.matt, &b.kon, &b.alder))
    });
    goals
        .into_iter()
        .map(|g| {
            let mut points: Vec<&Cell> = input
                .cells
                .iter()
                .filter(|c| c.matt == g.matt && c.kon == g.kon && c.alder == g.alder && is_total(c))
                .collect();
            points.sort_by_key(|c| (period_month_index(&c.period), c.period.clone()));
            points.dedup_by(|a, b| a.period == b.period);
            GoalView {
                goal: g.clone(),
                chart_id: slug(&format!("g-{}-{}-{}-{}", g.mal_id, g.matt, g.kon, g.alder)),
                series: points
                    .iter()
                    .map(|c| LinePoint {
                        period: c.period.clone(),
                        value: figure_of(Some(c), Field::Antal),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Builds the report's sections, sources and notes from `input`.
pub fn build(input: &ReportInput) -> Report {
    let mut notes = Vec::new();
    let mut sections = Vec::new();
    for def in DEFS {
        let tables = build_tables(def, input, &mut notes);
        if !tables.is_empty() {
            sections.push((def.key, def.title, def.sheet, SectionBody::Tables(tables)));
        }
    }
    notes.extend(not_delivered(input));
    let goals = goal_views(input);
    if !goals.is_empty() {
        sections.push((
            "malfoljning",
            "Målföljning",
            "Målföljning",
            SectionBody::Goals(goals),
        ));
    }
    let sections = sections
        .into_iter()
        .enumerate()
        .map(|(i, (key, title, sheet, body))| Section {
            number: i + 1,
            key,
            title: title.to_string(),
            sheet_name: format!("{} {sheet}", i + 1),
            body,
        })
        .collect();
    if input.suppress_below > 0 {
        notes.push(format!(
            "Celler med färre än {} personer visas inte (markerade ..).",
            input.suppress_below
        ));
    }
    notes.push(
        "Uppgifter som källan inte lämnat ut visas också som ..; – betyder att uppgift saknas."
            .into(),
    );
    notes.push(
        "Andel = andel av befolkningen av samma kön och ålder (Kolada-mått: Koladas andel).".into(),
    );
    let mut sources = input.sources.clone();
    sources.sort();
    sources.dedup();
    Report {
        title: "Bilaga 1. Kartläggning av målgruppen unga 16–24 år".to_string(),
        subtitle: format!(
            "{} kommun ({}), {}",
            input.kommun_namn,
            input.kommun,
            period_label(&input.period)
        ),
        sections,
        sources,
        notes,
        generated_at: input.generated_at.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::layout::{Figure, figure_cells};
    use crate::report::testdata::{expected, input_cell, kalmar_input, key_of, total_cell};

    fn tables<'a>(report: &'a Report, key: &str) -> &'a [Table] {
        let section = report.sections.iter().find(|s| s.key == key);
        section.map_or(&[], Section::tables)
    }

    #[test]
    fn every_figure_of_the_period_is_shown_with_its_value() {
        let input = kalmar_input();
        let report = build(&input);
        let shown: Vec<_> = figure_cells(&report).collect();
        let of_period = |c: &&Cell| c.period == "2015-05" || c.period == "2015";
        for c in input.cells.iter().filter(of_period) {
            let annual = c.matt.starts_with("ak9");
            let field = if annual { Field::Andel } else { Field::Antal };
            let key = key_of(c);
            let found: Vec<_> = shown
                .iter()
                .filter(|f| f.key == key && f.field == field)
                .collect();
            assert!(!found.is_empty(), "not shown: {c:?}");
            assert!(found.iter().all(|f| f.figure == expected(Some(c), field)));
        }
        assert_eq!(input.cells.iter().filter(of_period).count(), 873);
        // Nothing is shown that is not in the input (except "–" for an absent kön).
        for f in &shown {
            assert_eq!(f.figure, expected(input_cell(&input, &f.key), f.field));
        }
    }

    #[test]
    fn a_breakdown_not_delivered_is_named_in_the_notes_not_shown_as_zeros() {
        let full = build(&kalmar_input());
        assert!(
            !full.notes.iter().any(|n| n.contains("ej levererat")),
            "{:?}",
            full.notes
        );
        let mut input = kalmar_input();
        let undelivered = |c: &Cell| {
            c.matt.starts_with("fs_arbetsloshet_")
                || (c.matt == "fs_mottagare" && c.dimension == "utbildning")
        };
        input.cells.retain(|c| !undelivered(c));
        let notes = build(&input).notes;
        for expected in [
            "Försörjningsstöd per utbildningsnivå: ej levererat av källan (inte noll).",
            "Arbetslöshet per delorsak: ej levererat av källan (inte noll).",
        ] {
            assert!(
                notes.iter().any(|n| n == expected),
                "{expected} not in {notes:?}"
            );
        }
        assert!(
            !notes.iter().any(|n| n.contains("födelseland")),
            "{notes:?}"
        );
    }

    #[test]
    fn sections_in_report_order() {
        let report = build(&kalmar_input());
        let keys: Vec<_> = report.sections.iter().map(|s| s.key).collect();
        assert_eq!(
            keys,
            [
                "malgrupp",
                "kaa",
                "fs",
                "af",
                "timanstallda",
                "skola",
                "malfoljning"
            ]
        );
        let numbers: Vec<_> = report.sections.iter().map(|s| s.number).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(report.sections[4].sheet_name, "5 Timanställda");
        assert!(
            report
                .sections
                .iter()
                .all(|s| s.sheet_name.chars().count() <= 31)
        );
        assert_eq!(report.subtitle, "Kalmar kommun (0880), maj 2015");
    }

    #[test]
    fn tables_and_charts_per_section() {
        let report = build(&kalmar_input());
        let malgrupp = tables(&report, "malgrupp");
        assert_eq!(malgrupp.len(), 1);
        let labels: Vec<_> = malgrupp[0]
            .columns
            .iter()
            .map(|c| c.label.clone())
            .collect();
        let all = "Kvinnor Män Totalt Andel kvinnor Andel män Andel totalt";
        assert_eq!(labels.join(" "), all);
        let first = &malgrupp[0].groups[0].rows[0];
        assert_eq!(first.label, "Målgruppen, summa över källor, 16–24 år");
        assert_eq!(first.cells[2].figure, Figure::Count(902));
        assert_eq!(first.cells[5].figure, Figure::Share(0.09623386322415449));

        let kaa = tables(&report, "kaa");
        assert_eq!(
            kaa.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            ["t-kaa-oversikt", "t-kaa-kaa-inskrivna"]
        );
        let charts: Vec<_> = kaa[1]
            .groups
            .iter()
            .filter_map(|g| g.chart.as_ref())
            .collect();
        assert_eq!(charts.len(), 2);
        assert_eq!(charts[0].bars[0].label, "Studier");
        assert_eq!(charts[0].bars[0].value, Figure::Count(10));

        // Only the recipients' breakdowns are charted in Försörjningsstöd.
        let fs_charts: Vec<_> = tables(&report, "fs")
            .iter()
            .flat_map(|t| &t.groups)
            .filter_map(|g| g.chart.as_ref())
            .map(|c| c.id.trim_start_matches("c-fs-mottagare-"))
            .collect();
        let dims = "utbildning-16-24 funktionsnedsattning-16-24 fodelseland-16-24 orsak-16-24";
        assert_eq!(fs_charts.join(" "), dims);
        // A lone measure with a detail table gets no repeated overview.
        let tim = tables(&report, "timanstallda");
        assert_eq!(tim.len(), 1);
        assert_eq!(tim[0].groups[0].rows[0].label, "16–24 år");
        assert_eq!(
            tim[0].groups[1].label.as_deref(),
            Some("Förvaltning, 16–24 år")
        );
    }

    #[test]
    fn annual_measures_use_the_year_of_a_monthly_report() {
        let report = build(&kalmar_input());
        let skola = tables(&report, "skola");
        assert_eq!(skola[0].columns.len(), 3, "share columns only");
        let row = &skola[0].groups[0].rows[0];
        assert_eq!(row.label, "Elever i åk 9 behöriga till yrkesprogram");
        let figures: Vec<_> = row.cells.iter().map(|c| c.figure).collect();
        assert_eq!(
            figures,
            [
                Figure::Share(0.904),
                Figure::Suppressed,
                Figure::Share(0.892)
            ]
        );
        assert_eq!(row.cells[1].status.as_deref(), Some("suppressed"));
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("årsuppgift för 2015"))
        );
        // uvas exists only for 2012: not in a 2015 report.
        assert!(figure_cells(&report).all(|f| f.key.matt != "uvas"));
    }

    #[test]
    fn unknown_measures_threshold_sources_and_goals() {
        let mut input = kalmar_input();
        input.suppress_below = 0;
        input
            .cells
            .push(total_cell("2015-05 nytt_matt T 16-24", Some(7), false));
        let later = total_cell("2016-05 malgrupp_summa T 16-24", None, true);
        input.cells.push(later);
        let report = build(&input);
        let keys: Vec<_> = report.sections.iter().map(|s| s.key).collect();
        assert_eq!(keys[6..], ["ovrigt", "malfoljning"]);
        assert!(!report.notes.iter().any(|n| n.contains("färre än")));
        assert_eq!(
            report.sources.len(),
            6,
            "kolada's three periods are one source"
        );
        let Some(SectionBody::Goals(goals)) = report.sections.last().map(|s| &s.body) else {
            panic!("goals last");
        };
        let series: Vec<_> = goals[0]
            .series
            .iter()
            .map(|p| (p.period.as_str(), p.value))
            .collect();
        assert_eq!(
            series,
            [
                ("2015-05", Figure::Count(902)),
                ("2016-05", Figure::Suppressed)
            ]
        );
    }
}
