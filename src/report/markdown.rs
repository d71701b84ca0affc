//! The Markdown format: the same sections and tables as GitHub-flavoured
//! pipe tables (group headers as bold rows), goals and the footer. Charts are
//! left to the HTML and xlsx formats; Markdown shows the figures only.

use super::labels::{format_decimal, period_label};
use super::layout::{GoalView, Report, SectionBody, Table};
use std::fmt::{Result as FmtResult, Write};

/// Escapes Markdown's inline specials (`\ | * _ ` < > [ ]`) in table text.
pub fn escape_md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '\\' | '|' | '*' | '_' | '`' | '<' | '>' | '[' | ']') {
            out.push('\\');
        }
        out.push(if ch == '\n' { ' ' } else { ch });
    }
    out
}

fn row(out: &mut String, cells: &[String]) -> FmtResult {
    writeln!(out, "| {} |", cells.join(" | "))
}

fn table_md(out: &mut String, table: &Table) -> FmtResult {
    writeln!(out, "**{}**\n", escape_md(&table.caption))?;
    let mut head = vec![escape_md(&table.row_header)];
    head.extend(table.columns.iter().map(|c| escape_md(&c.label)));
    row(out, &head)?;
    let mut rule = vec![":---".to_string()];
    rule.extend(table.columns.iter().map(|_| "---:".to_string()));
    row(out, &rule)?;
    for group in &table.groups {
        if let Some(label) = &group.label {
            let mut cells = vec![format!("**{}**", escape_md(label))];
            cells.extend(table.columns.iter().map(|_| String::new()));
            row(out, &cells)?;
        }
        for r in &group.rows {
            let mut cells = vec![escape_md(&r.label)];
            cells.extend(r.cells.iter().map(|c| escape_md(&c.figure.display())));
            row(out, &cells)?;
        }
    }
    out.push('\n');
    Ok(())
}

fn opt(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), format_decimal)
}

fn goals_md(out: &mut String, goals: &[GoalView]) -> FmtResult {
    row(
        out,
        &[
            "Mål",
            "Period",
            "Värde",
            "Baslinje",
            "Baslinjevärde",
            "Målperiod",
            "Målvärde",
            "Kvar till mål",
        ]
        .map(String::from),
    )?;
    row(
        out,
        &[
            ":---", ":---", "---:", ":---", "---:", ":---", "---:", "---:",
        ]
        .map(String::from),
    )?;
    for view in goals {
        let g = &view.goal;
        row(
            out,
            &[
                escape_md(&g.beskrivning),
                period_label(&g.period),
                opt(g.varde.map(|v| v as f64)),
                period_label(&g.baslinje),
                opt(g.baslinje_varde.map(|v| v as f64)),
                period_label(&g.malperiod),
                opt(g.malvarde),
                opt(g.kvar_till_mal),
            ],
        )?;
    }
    out.push('\n');
    for view in goals {
        let (baseline, target) = view.refs();
        let series: Vec<String> = view
            .series
            .iter()
            .map(|p| format!("{} {}", period_label(&p.period), p.value.display()))
            .collect();
        writeln!(
            out,
            "*{}* – utveckling: {}.{}{}\n",
            escape_md(&view.goal.beskrivning),
            escape_md(&series.join(", ")),
            baseline.map_or_else(String::new, |b| format!(
                " Baslinje {}.",
                format_decimal(b.value)
            )),
            target.map_or_else(String::new, |t| format!(
                " Mål {} ({}).",
                format_decimal(t.value),
                period_label(&t.period)
            )),
        )?;
    }
    Ok(())
}

/// Renders the whole report as Markdown.
pub fn render_markdown(report: &Report) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    writeln!(
        out,
        "# {}\n\n{}\n",
        escape_md(&report.title),
        escape_md(&report.subtitle)
    )?;
    for section in &report.sections {
        writeln!(
            out,
            "## {}. {}\n",
            section.number,
            escape_md(&section.title)
        )?;
        match &section.body {
            SectionBody::Tables(tables) => tables.iter().try_for_each(|t| table_md(&mut out, t))?,
            SectionBody::Goals(goals) => goals_md(&mut out, goals)?,
        }
    }
    out.push_str("## Källor och förklaringar\n\n");
    row(
        &mut out,
        &["Pipeline", "Fil", "Tabell", "Uttag"].map(String::from),
    )?;
    row(
        &mut out,
        &[":---", ":---", ":---", ":---"].map(String::from),
    )?;
    for s in &report.sources {
        row(
            &mut out,
            &[&s.pipeline, &s.file, &s.table_name, &s.extracted_at].map(|t| escape_md(t)),
        )?;
    }
    out.push('\n');
    for note in &report.notes {
        writeln!(out, "- {}", escape_md(note))?;
    }
    writeln!(
        out,
        "\nRapporten skapades {}.",
        escape_md(&report.generated_at)
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sections::build;
    use crate::report::testdata::{kalmar_input, period_cells};

    fn md() -> String {
        render_markdown(&build(&kalmar_input())).expect("markdown")
    }

    #[test]
    fn shows_the_same_figures_as_the_fixture() {
        let md = md();
        assert!(md.starts_with("# Bilaga 1"));
        assert!(md.contains("Kalmar kommun (0880), maj 2015"));
        assert!(md.contains("| Målgruppen, summa över källor, 16–24 år | 338 | 564 | 902 | 7,1\u{a0}% | 12,1\u{a0}% | 9,6\u{a0}% |"));
        assert!(md.contains("| Gymnasial | 215 | 325 | 540 |"));
        // Suppressed K/M with a published total.
        assert!(md.contains("| Barnomsorg | .. | .. | 8 |"));
        assert!(md.contains("| **Förvaltning, 16–24 år** |  |  |  |"));
        let input = kalmar_input();
        let tim = period_cells(&input)
            .into_iter()
            .find(|c| {
                c.matt == "timanstallda"
                    && c.kon == "T"
                    && c.alder == "16-24"
                    && c.dimension == "total"
            })
            .and_then(|c| c.antal);
        assert_eq!(tim, Some(195));
        assert!(md.contains("| 16–24 år | 161 | 34 | 195 |"));
    }

    #[test]
    fn goals_sources_and_notes() {
        let md = md();
        assert!(md.contains("## 7. Målföljning"));
        assert!(md.contains("| maj 2015 | 902 | maj 2015 | 902 | december 2018 | 451 | 451 |"));
        assert!(md.contains("utveckling: maj 2015 902. Baslinje 902. Mål 451 (december 2018)."));
        assert!(md.contains(
            "| kalmar\\_af | af\\_inskrivna\\_2015-05.xlsx | aggregat | 2026-11-23T23:35:23.705Z |"
        ));
        assert!(md.contains("- Celler med färre än 5 personer visas inte (markerade ..)."));
        assert!(md.contains("Rapporten skapades 2026-11-24T06:00:00Z."));
    }

    #[test]
    fn every_table_row_has_as_many_cells_as_its_header() {
        let md = md();
        let mut widths: Vec<usize> = Vec::new();
        let mut tables = 0;
        for line in md.lines() {
            if !line.starts_with('|') {
                if widths.len() > 1 {
                    tables += 1;
                    assert!(widths.iter().all(|w| *w == widths[0]), "{widths:?}");
                }
                widths.clear();
                continue;
            }
            widths.push(line.replace("\\|", "").matches('|').count());
        }
        let report = build(&kalmar_input());
        let model_tables: usize = report.sections.iter().map(|s| s.tables().len()).sum();
        assert_eq!(tables, model_tables + 2, "plus the goal and sources tables");
        assert_eq!(escape_md("a|b_c*"), "a\\|b\\_c\\*");
    }
}
