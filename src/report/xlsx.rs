//! The xlsx format: one worksheet per section plus "Källor", Swedish
//! headers, typed cells (counts and shares as numbers, shares formatted as
//! percent), withheld figures as the text "..", missing ones as "–".
//!
//! The workbook's creation time is taken from `generated_at`, so the same
//! report gives the same bytes.

use super::ReportError;
use super::labels::period_label;
use super::layout::{Figure, GoalView, Report, Section, SectionBody, Table};
use rust_xlsxwriter::{
    Color, DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet,
};

struct Formats {
    title: Format,
    bold: Format,
    header: Format,
    group: Format,
    count: Format,
    share: Format,
    decimal: Format,
    mark: Format,
}

impl Formats {
    fn new() -> Self {
        let header = Format::new()
            .set_bold()
            .set_border_bottom(FormatBorder::Medium)
            .set_align(FormatAlign::Right);
        Self {
            title: Format::new().set_bold().set_font_size(14),
            bold: Format::new().set_bold(),
            header,
            group: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0xEEF3F6)),
            count: Format::new().set_num_format("#,##0"),
            share: Format::new().set_num_format("0.0%"),
            decimal: Format::new().set_num_format("#,##0.#"),
            mark: Format::new().set_align(FormatAlign::Right),
        }
    }
}

type Res<T> = Result<T, ReportError>;

fn write_figure(ws: &mut Worksheet, f: &Formats, row: u32, col: u16, figure: &Figure) -> Res<()> {
    match figure {
        Figure::Count(n) => ws.write_number_with_format(row, col, *n as f64, &f.count)?,
        Figure::Share(s) => ws.write_number_with_format(row, col, *s, &f.share)?,
        Figure::Suppressed | Figure::Missing => {
            ws.write_string_with_format(row, col, figure.display(), &f.mark)?
        }
    };
    Ok(())
}

fn write_opt(ws: &mut Worksheet, f: &Formats, row: u32, col: u16, value: Option<f64>) -> Res<()> {
    match value {
        Some(v) => ws.write_number_with_format(row, col, v, &f.decimal)?,
        None => ws.write_string_with_format(row, col, "–", &f.mark)?,
    };
    Ok(())
}

/// Writes `table` from `row`; returns the first free row after it.
fn write_table(ws: &mut Worksheet, f: &Formats, table: &Table, mut row: u32) -> Res<u32> {
    ws.write_string_with_format(row, 0, &table.caption, &f.bold)?;
    row += 1;
    ws.write_string_with_format(
        row,
        0,
        &table.row_header,
        &f.header.clone().set_align(FormatAlign::Left),
    )?;
    for (i, col) in table.columns.iter().enumerate() {
        ws.write_string_with_format(row, i as u16 + 1, &col.label, &f.header)?;
    }
    row += 1;
    for group in &table.groups {
        if let Some(label) = &group.label {
            ws.write_string_with_format(row, 0, label, &f.group)?;
            for i in 0..table.columns.len() {
                ws.write_blank(row, i as u16 + 1, &f.group)?;
            }
            row += 1;
        }
        for r in &group.rows {
            ws.write_string(row, 0, &r.label)?;
            for (i, cell) in r.cells.iter().enumerate() {
                write_figure(ws, f, row, i as u16 + 1, &cell.figure)?;
            }
            row += 1;
        }
    }
    Ok(row + 1)
}

fn write_goals(ws: &mut Worksheet, f: &Formats, goals: &[GoalView], mut row: u32) -> Res<u32> {
    let head = [
        "Mål",
        "Mått",
        "Kön",
        "Ålder",
        "Period",
        "Värde",
        "Baslinje",
        "Baslinjevärde",
        "Målperiod",
        "Målvärde",
        "Kvar till mål",
    ];
    for (i, h) in head.iter().enumerate() {
        ws.write_string_with_format(row, i as u16, *h, &f.header)?;
    }
    row += 1;
    for view in goals {
        let g = &view.goal;
        let texts = [&g.beskrivning, &g.matt, &g.kon, &g.alder, &g.period];
        for (i, t) in texts.iter().enumerate() {
            ws.write_string(row, i as u16, *t)?;
        }
        write_opt(ws, f, row, 5, g.varde.map(|v| v as f64))?;
        ws.write_string(row, 6, &g.baslinje)?;
        write_opt(ws, f, row, 7, g.baslinje_varde.map(|v| v as f64))?;
        ws.write_string(row, 8, &g.malperiod)?;
        write_opt(ws, f, row, 9, g.malvarde)?;
        write_opt(ws, f, row, 10, g.kvar_till_mal)?;
        row += 1;
    }
    for view in goals {
        row += 1;
        let caption = format!("Utveckling över tid: {}", view.goal.beskrivning);
        ws.write_string_with_format(row, 0, caption, &f.bold)?;
        ws.write_string_with_format(
            row + 1,
            0,
            "Period",
            &f.header.clone().set_align(FormatAlign::Left),
        )?;
        ws.write_string_with_format(row + 1, 1, "Värde", &f.header)?;
        row += 2;
        for p in &view.series {
            ws.write_string(row, 0, period_label(&p.period))?;
            write_figure(ws, f, row, 1, &p.value)?;
            row += 1;
        }
    }
    Ok(row + 1)
}

fn write_section(wb: &mut Workbook, f: &Formats, report: &Report, section: &Section) -> Res<()> {
    let ws = wb.add_worksheet();
    ws.set_name(&section.sheet_name)?;
    ws.set_column_width(0, 48)?;
    ws.set_column_range_width(1, 10, 14)?;
    let heading = format!("{}. {}", section.number, section.title);
    ws.write_string_with_format(0, 0, heading, &f.title)?;
    ws.write_string(1, 0, &report.subtitle)?;
    let mut row = 3;
    match &section.body {
        SectionBody::Tables(tables) => {
            for table in tables {
                row = write_table(ws, f, table, row)?;
            }
        }
        SectionBody::Goals(goals) => {
            write_goals(ws, f, goals, row)?;
        }
    }
    Ok(())
}

fn write_sources(wb: &mut Workbook, f: &Formats, report: &Report) -> Res<()> {
    let ws = wb.add_worksheet();
    ws.set_name("Källor")?;
    ws.set_column_width(0, 28)?;
    ws.set_column_range_width(1, 3, 30)?;
    ws.write_string_with_format(0, 0, "Källor och förklaringar", &f.title)?;
    ws.write_string(1, 0, &report.subtitle)?;
    for (i, h) in ["Pipeline", "Fil", "Tabell", "Uttag"].iter().enumerate() {
        ws.write_string_with_format(
            3,
            i as u16,
            *h,
            &f.header.clone().set_align(FormatAlign::Left),
        )?;
    }
    let mut row = 4;
    for s in &report.sources {
        for (i, t) in [&s.pipeline, &s.file, &s.table_name, &s.extracted_at]
            .iter()
            .enumerate()
        {
            ws.write_string(row, i as u16, *t)?;
        }
        row += 1;
    }
    row += 1;
    for note in &report.notes {
        ws.write_string(row, 0, note)?;
        row += 1;
    }
    ws.write_string(
        row + 1,
        0,
        format!("Rapporten skapades {}", report.generated_at),
    )?;
    Ok(())
}

/// Renders the report as an xlsx workbook.
pub fn render_xlsx(report: &Report) -> Result<Vec<u8>, ReportError> {
    let mut wb = Workbook::new();
    let created = ExcelDateTime::parse_from_str(&report.generated_at)
        .or_else(|_| ExcelDateTime::from_ymd(2000, 1, 1))?;
    let props = DocProperties::new()
        .set_title(&report.title)
        .set_subject(&report.subtitle)
        .set_author("malgrupp")
        .set_creation_datetime(&created);
    wb.set_properties(&props);
    let f = Formats::new();
    for section in &report.sections {
        write_section(&mut wb, &f, report, section)?;
    }
    write_sources(&mut wb, &f, report)?;
    Ok(wb.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sections::build;
    use crate::report::testdata::{expected, input_cell, kalmar_input};
    use calamine::{Data, Range, Reader, Xlsx, open_workbook_from_rs};
    use std::io::Cursor;

    fn workbook() -> Xlsx<Cursor<Vec<u8>>> {
        let bytes = render_xlsx(&build(&kalmar_input())).expect("xlsx");
        open_workbook_from_rs(Cursor::new(bytes)).expect("readable xlsx")
    }

    fn sheet(wb: &mut Xlsx<Cursor<Vec<u8>>>, name: &str) -> Range<Data> {
        wb.worksheet_range(name).expect("sheet")
    }

    fn find_row<'a>(range: &'a Range<Data>, label: &str) -> &'a [Data] {
        range
            .rows()
            .find(|r| r.first() == Some(&Data::String(label.into())))
            .unwrap_or_else(|| panic!("no row {label}"))
    }

    #[test]
    fn one_sheet_per_section_with_swedish_headers() {
        let wb = workbook();
        assert_eq!(
            wb.sheet_names(),
            [
                "1 Målgruppen",
                "2 KAA",
                "3 Försörjningsstöd",
                "4 Arbetsförmedlingen",
                "5 Timanställda",
                "6 Skola och UVAS",
                "7 Målföljning",
                "Källor",
            ]
        );
        let mut wb = wb;
        let range = sheet(&mut wb, "1 Målgruppen");
        assert_eq!(
            range.get((0, 0)),
            Some(&Data::String("1. Målgruppens storlek".into()))
        );
        let header = find_row(&range, "Mått");
        assert_eq!(
            header[1..4],
            [
                Data::String("Kvinnor".into()),
                Data::String("Män".into()),
                Data::String("Totalt".into()),
            ]
        );
    }

    #[test]
    fn figures_are_typed_numbers_equal_to_the_fixture() {
        let mut wb = workbook();
        let range = sheet(&mut wb, "1 Målgruppen");
        let row = find_row(&range, "Målgruppen, summa över källor, 16–24 år");
        assert_eq!(
            row[1..4],
            [Data::Float(338.0), Data::Float(564.0), Data::Float(902.0)]
        );
        assert_eq!(row[6], Data::Float(0.09623386322415449));
        let range = sheet(&mut wb, "5 Timanställda");
        let row = find_row(&range, "Barnomsorg");
        assert_eq!(
            row[1..4],
            [
                Data::String("..".into()),
                Data::String("..".into()),
                Data::Float(8.0)
            ]
        );
        let range = sheet(&mut wb, "6 Skola och UVAS");
        let row = find_row(&range, "Elever i åk 9 behöriga till yrkesprogram");
        assert_eq!(
            row[1..4],
            [
                Data::Float(0.904),
                Data::String("..".into()),
                Data::Float(0.892)
            ]
        );
    }

    #[test]
    fn every_table_cell_matches_the_fixture() {
        let input = kalmar_input();
        let report = build(&input);
        let mut wb = workbook();
        let mut checked = 0;
        for section in &report.sections {
            let SectionBody::Tables(tables) = &section.body else {
                continue;
            };
            let range = sheet(&mut wb, &section.sheet_name);
            let mut rows = range.rows();
            for table in tables {
                rows.find(|r| r.first() == Some(&Data::String(table.caption.clone())));
                rows.next(); // header
                for group in &table.groups {
                    if group.label.is_some() {
                        rows.next();
                    }
                    for model_row in &group.rows {
                        let sheet_row = rows.next().expect("row");
                        assert_eq!(sheet_row[0], Data::String(model_row.label.clone()));
                        for (i, fc) in model_row.cells.iter().enumerate() {
                            let k = &fc.key;
                            let expected = match expected(input_cell(&input, k), fc.field) {
                                Figure::Count(n) => Data::Float(n as f64),
                                Figure::Share(s) => Data::Float(s),
                                other => Data::String(other.display()),
                            };
                            assert_eq!(sheet_row[i + 1], expected, "{k:?}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 900, "{checked}");
    }

    #[test]
    fn goals_sources_and_same_bytes_twice() {
        let mut wb = workbook();
        let range = sheet(&mut wb, "7 Målföljning");
        let row = find_row(
            &range,
            "Målgruppen 16–24 år ska 2018-12-31 ha halverats jämfört med maj 2015",
        );
        assert_eq!(row[5], Data::Float(902.0));
        assert_eq!(row[9], Data::Float(451.0));
        assert_eq!(row[10], Data::Float(451.0));
        assert_eq!(find_row(&range, "maj 2015")[1], Data::Float(902.0));
        let range = sheet(&mut wb, "Källor");
        assert_eq!(
            find_row(&range, "kalmar_af")[3],
            Data::String("2026-11-23T23:35:23.705Z".into())
        );
        assert!(range.rows().any(|r| r[0]
            == Data::String("Celler med färre än 5 personer visas inte (markerade ..).".into())));
        let report = build(&kalmar_input());
        assert_eq!(
            render_xlsx(&report).expect("xlsx"),
            render_xlsx(&report).expect("xlsx")
        );
    }
}
