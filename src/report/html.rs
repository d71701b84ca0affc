//! The HTML format: one self-contained, printable, accessible document
//! (inline CSS and SVG, no external resources, no script).
//!
//! Every figure cell carries `data-matt`, `data-kon`, `data-alder`,
//! `data-dimension`, `data-kategori`, `data-period`, `data-field` and, when it
//! is a number, `data-value` (the integer, or the share's 0..1 value);
//! withheld cells carry `data-skyddad="true"` and show "..".

use super::GoalRow;
use super::chart::{bar_chart, line_chart};
use super::labels::{format_decimal, period_label};
use super::layout::{Figure, FigureCell, GoalView, Report, Section, SectionBody, Table};
use std::fmt::{Result as FmtResult, Write};

const CSS: &str = "\
@page{size:A4;margin:14mm}\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1a1a1a;\
max-width:60rem;margin:0 auto;padding:1rem;line-height:1.4}\
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #2b6a8f}\
.subtitle{font-size:1.1rem;margin-top:0;color:#444}\
table{border-collapse:collapse;margin:1rem 0;min-width:50%}\
caption{text-align:left;font-weight:600;padding:.3rem 0;caption-side:top}\
th,td{padding:.2rem .6rem;border-bottom:1px solid #ccc;vertical-align:top}\
thead th{border-bottom:2px solid #333;text-align:right}thead th:first-child{text-align:left}\
th[scope=row]{text-align:left;font-weight:normal}\
tr.group th{text-align:left;font-weight:600;background:#eef3f6}\
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\
td[data-skyddad]{color:#666}\
figure{margin:1rem 0;break-inside:avoid}figcaption{font-size:.9rem;color:#333}\
svg{max-width:100%;height:auto}\
footer{margin-top:3rem;font-size:.9rem;border-top:1px solid #999}\
thead{display:table-header-group}tr{break-inside:avoid}\
@media print{nav{display:none}body{max-width:none}a{color:inherit;text-decoration:none}}";

/// Escapes `& < > " '` for HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn figure_td(out: &mut String, cell: &FigureCell) -> FmtResult {
    let k = &cell.key;
    write!(
        out,
        "<td class=\"num\" data-matt=\"{}\" data-kon=\"{}\" data-alder=\"{}\" data-dimension=\"{}\" \
         data-kategori=\"{}\" data-period=\"{}\" data-field=\"{}\"",
        escape(&k.matt),
        escape(&k.kon),
        escape(&k.alder),
        escape(&k.dimension),
        escape(&k.kategori),
        escape(&k.period),
        cell.field.as_str()
    )?;
    if let Some(raw) = cell.figure.raw() {
        write!(out, " data-value=\"{}\"", escape(&raw))?;
    }
    if cell.figure == Figure::Suppressed {
        out.push_str(" data-skyddad=\"true\" title=\"Uppgiften visas inte\"");
    }
    if let Some(status) = &cell.status {
        write!(out, " data-status=\"{}\"", escape(status))?;
    }
    write!(out, ">{}</td>", escape(&cell.figure.display()))
}

fn table_html(out: &mut String, table: &Table) -> FmtResult {
    write!(
        out,
        "<table id=\"{}\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th>",
        escape(&table.id),
        escape(&table.caption),
        escape(&table.row_header)
    )?;
    for col in &table.columns {
        write!(out, "<th scope=\"col\">{}</th>", escape(&col.label))?;
    }
    out.push_str("</tr></thead>");
    for group in &table.groups {
        out.push_str("<tbody>");
        if let Some(label) = &group.label {
            write!(
                out,
                "<tr class=\"group\"><th scope=\"rowgroup\" colspan=\"{}\">{}</th></tr>",
                table.columns.len() + 1,
                escape(label)
            )?;
        }
        for row in &group.rows {
            write!(out, "<tr><th scope=\"row\">{}</th>", escape(&row.label))?;
            for cell in &row.cells {
                figure_td(out, cell)?;
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody>");
    }
    out.push_str("</table>\n");
    for chart in table.groups.iter().filter_map(|g| g.chart.as_ref()) {
        writeln!(
            out,
            "<figure><figcaption>{}</figcaption>{}</figure>",
            escape(&chart.title),
            bar_chart(&chart.id, &chart.title, &chart.bars)?
        )?;
    }
    Ok(())
}

fn goal_td(out: &mut String, g: &GoalRow, field: &str, period: &str, v: Option<f64>) -> FmtResult {
    write!(
        out,
        "<td class=\"num\" data-matt=\"{}\" data-kon=\"{}\" data-alder=\"{}\" data-dimension=\"total\" \
         data-kategori=\"total\" data-period=\"{}\" data-field=\"{field}\"",
        escape(&g.matt),
        escape(&g.kon),
        escape(&g.alder),
        escape(period)
    )?;
    match v {
        Some(v) => write!(out, " data-value=\"{v}\">{}</td>", format_decimal(v)),
        None => out.write_str(">–</td>"),
    }
}

fn goals_html(out: &mut String, goals: &[GoalView]) -> FmtResult {
    out.push_str(
        "<table id=\"t-malfoljning\"><caption>Målföljning</caption><thead><tr>\
         <th scope=\"col\">Mål</th><th scope=\"col\">Period</th><th scope=\"col\">Värde</th>\
         <th scope=\"col\">Baslinje</th><th scope=\"col\">Baslinjevärde</th>\
         <th scope=\"col\">Målperiod</th><th scope=\"col\">Målvärde</th>\
         <th scope=\"col\">Kvar till mål</th></tr></thead><tbody>",
    );
    for view in goals {
        let g = &view.goal;
        write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td>",
            escape(&g.beskrivning),
            escape(&period_label(&g.period))
        )?;
        goal_td(out, g, "varde", &g.period, g.varde.map(|v| v as f64))?;
        write!(out, "<td>{}</td>", escape(&period_label(&g.baslinje)))?;
        goal_td(
            out,
            g,
            "baslinje_varde",
            &g.baslinje,
            g.baslinje_varde.map(|v| v as f64),
        )?;
        write!(out, "<td>{}</td>", escape(&period_label(&g.malperiod)))?;
        goal_td(out, g, "malvarde", &g.malperiod, g.malvarde)?;
        goal_td(out, g, "kvar_till_mal", &g.period, g.kvar_till_mal)?;
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
    for view in goals {
        let (baseline, target) = view.refs();
        let title = format!("{} – utveckling över tid", view.goal.beskrivning);
        let svg = line_chart(
            &view.chart_id,
            &title,
            &view.series,
            baseline.as_ref(),
            target.as_ref(),
        )?;
        writeln!(
            out,
            "<figure><figcaption>{}</figcaption>{svg}</figure>",
            escape(&title)
        )?;
    }
    Ok(())
}

fn section_html(out: &mut String, section: &Section) -> FmtResult {
    writeln!(
        out,
        "<section id=\"s-{key}\" aria-labelledby=\"h-{key}\"><h2 id=\"h-{key}\">{}. {}</h2>",
        section.number,
        escape(&section.title),
        key = section.key
    )?;
    match &section.body {
        SectionBody::Tables(tables) => tables.iter().try_for_each(|t| table_html(out, t))?,
        SectionBody::Goals(goals) => goals_html(out, goals)?,
    }
    out.push_str("</section>\n");
    Ok(())
}

/// Renders the whole report as one HTML document.
pub fn render_html(report: &Report) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"sv\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} – {}</title><style>{CSS}</style></head>\n<body><header><h1>{}</h1>\
         <p class=\"subtitle\">{}</p></header>\n<nav aria-label=\"Innehåll\"><ol>",
        escape(&report.title),
        escape(&report.subtitle),
        escape(&report.title),
        escape(&report.subtitle)
    )?;
    for s in &report.sections {
        write!(
            out,
            "<li><a href=\"#s-{}\">{}</a></li>",
            s.key,
            escape(&s.title)
        )?;
    }
    out.push_str("</ol></nav>\n<main>\n");
    for section in &report.sections {
        section_html(&mut out, section)?;
    }
    out.push_str(
        "</main>\n<footer><h2>Källor och förklaringar</h2><table id=\"t-kallor\"><caption>Källor</caption>\
         <thead><tr><th scope=\"col\">Pipeline</th><th scope=\"col\">Fil</th>\
         <th scope=\"col\">Tabell</th><th scope=\"col\">Uttag</th></tr></thead><tbody>",
    );
    for s in &report.sources {
        write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td><time datetime=\"{}\">{}</time></td></tr>",
            escape(&s.pipeline),
            escape(&s.file),
            escape(&s.table_name),
            escape(&s.extracted_at),
            escape(&s.extracted_at)
        )?;
    }
    out.push_str("</tbody></table><ul class=\"notes\">");
    for note in &report.notes {
        write!(out, "<li>{}</li>", escape(note))?;
    }
    write!(
        out,
        "</ul><p>Rapporten skapades <time datetime=\"{0}\">{0}</time>.</p></footer>\n</body></html>\n",
        escape(&report.generated_at)
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::labels::format_int;
    use crate::report::sections::build;
    use crate::report::testdata::{Td, kalmar_input, period_cells, td_key, tds};
    use crate::report::{ReportFormat, render};

    fn html() -> String {
        render_html(&build(&kalmar_input())).expect("html")
    }

    #[test]
    fn escape_escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("Äldreomsorg 16–24"), "Äldreomsorg 16–24");
        let mut input = kalmar_input();
        input.kommun_namn = "<script>alert('x')</script>".into();
        let bytes = render(&input, ReportFormat::Html).expect("html");
        let html = String::from_utf8(bytes).expect("utf-8");
        assert!(!html.contains("<script"));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; kommun"));
    }

    #[test]
    fn target_group_total_carries_the_fixture_value() {
        let input = kalmar_input();
        let expected = period_cells(&input)
            .into_iter()
            .find(|c| c.matt == "malgrupp_summa" && c.kon == "T" && c.alder == "16-24")
            .and_then(|c| c.antal)
            .expect("fixture has the cell");
        let html = html();
        let key = "malgrupp_summa T 16-24 total total 2015-05 antal";
        let cell = tds(&html).into_iter().find(|td| td_key(td) == key);
        let cell = cell.expect("cell rendered");
        assert_eq!(cell.0.get("data-value"), Some(&expected.to_string()));
        assert_eq!(cell.1, "902");
    }

    #[test]
    fn every_figure_of_the_period_matches_the_fixture() {
        let input = kalmar_input();
        let cells = tds(&html());
        let mut suppressed = 0;
        for c in period_cells(&input) {
            let k = [
                &c.matt,
                &c.kon,
                &c.alder,
                &c.dimension,
                &c.kategori,
                &c.period,
            ];
            let key = format!(
                "{} {} {} {} {} {} antal",
                k[0], k[1], k[2], k[3], k[4], k[5]
            );
            let found: Vec<&Td> = cells.iter().filter(|td| td_key(td) == key).collect();
            assert!(!found.is_empty(), "missing {c:?}");
            for (attrs, text) in found {
                if c.is_suppressed() {
                    suppressed += 1;
                    assert_eq!(text, "..");
                    assert_eq!(attrs.get("data-skyddad").map(String::as_str), Some("true"));
                    assert!(!attrs.contains_key("data-value"), "{c:?}");
                } else if let Some(n) = c.antal {
                    assert_eq!(attrs.get("data-value"), Some(&n.to_string()));
                    assert_eq!(*text, format_int(n));
                    assert!(!attrs.contains_key("data-skyddad"));
                }
            }
        }
        assert!(suppressed >= 286, "{suppressed}");
        // No figure cell shows a number without its machine-readable value.
        for (attrs, text) in cells.iter().filter(|(a, _)| a.contains_key("data-field")) {
            assert_eq!(
                attrs.contains_key("data-value"),
                text != ".." && text != "–",
                "{text}"
            );
        }
    }

    #[test]
    fn document_is_self_contained_and_accessible() {
        let html = html();
        assert!(
            html.starts_with("<!DOCTYPE html>\n<html lang=\"sv\"><head><meta charset=\"utf-8\">")
        );
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains("<script") && !html.contains("@import") && !html.contains("<link"));
        assert!(!html.contains(" src="));
        for href in html.split("href=\"").skip(1) {
            assert!(
                href.starts_with('#'),
                "external href: {}",
                &href[..20.min(href.len())]
            );
        }
        assert_eq!(html.matches("url(").count(), html.matches("url(#").count());
        assert_eq!(
            html.matches("<table").count(),
            html.matches("<caption>").count()
        );
        assert_eq!(html.matches("<svg").count(), 9);
        assert_eq!(
            html.matches("<svg").count(),
            html.matches("role=\"img\" aria-label=\"").count()
        );
        assert_eq!(
            html.matches("<svg").count(),
            html.matches("-title\">").count()
        );
        assert!(html.contains("<th scope=\"rowgroup\" colspan=\"4\">Förvaltning, 16–24 år</th>"));
        assert!(!html.contains("<td>..</td>"));
    }

    #[test]
    fn goals_footer_and_determinism() {
        let html = html();
        assert!(html.contains("data-field=\"varde\" data-value=\"902\">902</td>"));
        assert!(html.contains(
            "data-period=\"2018-12\" data-field=\"malvarde\" data-value=\"451\">451</td>"
        ));
        assert!(html.contains("class=\"ref-baseline\"") && html.contains("class=\"ref-target\""));
        assert!(
            html.contains("<li>Celler med färre än 5 personer visas inte (markerade ..).</li>")
        );
        assert!(
            html.contains(
                "<th scope=\"row\">kalmar_kaa</th><td>kaa_2015-06-15.csv</td><td>kaa</td>"
            )
        );
        assert!(html.contains("<time datetime=\"2026-11-24T06:00:00Z\">"));
        assert_eq!(html, render_html(&build(&kalmar_input())).expect("html"));
        let mut input = kalmar_input();
        input.suppress_below = 0;
        let html = render_html(&build(&input)).expect("html");
        assert!(!html.contains("färre än"));
    }
}
