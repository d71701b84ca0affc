//! Excel .xlsx via calamine (`type = "xlsx"`): its key (`sheet`) validated; one sheet →
//! text cells, numbered as Excel numbers rows.
//!
//! Numbers are written with the pipeline's decimal separator so that the shared number
//! parser reads typed and text cells alike; dates become `YYYY-MM-DD`.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use super::options::{RawFormat, refuse};
use super::{Format, FormatError, RawRow};
use crate::error::Problems;

/// How a workbook is read.
#[derive(Debug, Clone)]
pub struct XlsxOptions {
    /// Sheet name; the first sheet when `None`.
    pub sheet: Option<String>,
}

/// Validates the xlsx keys of `[format]`; `delimiter` and `encoding` are CSV's.
pub fn validate(raw: &RawFormat, file: &str, p: &mut Problems) -> Format {
    refuse(
        &[
            (raw.delimiter.is_some(), "delimiter"),
            (raw.encoding.is_some(), "encoding"),
        ],
        "only for csv",
        file,
        p,
    );
    Format::Xlsx(XlsxOptions {
        sheet: raw.sheet.clone(),
    })
}

/// Reads every row of the sheet (`None`: the first sheet).
pub fn read(bytes: &[u8], sheet: Option<&str>, decimal: char) -> Result<Vec<RawRow>, FormatError> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(FormatError::Workbook)?;
    let names = book.sheet_names();
    let name = match sheet {
        Some(s) => names
            .iter()
            .find(|n| n.as_str() == s)
            .cloned()
            .ok_or_else(|| FormatError::NoSuchSheet {
                sheet: s.to_string(),
                sheets: names.join(", "),
            })?,
        None => names.first().cloned().ok_or(FormatError::NoSheets)?,
    };
    let range = book
        .worksheet_range(&name)
        .map_err(|source| FormatError::Sheet {
            name: name.clone(),
            source,
        })?;
    let (row0, col0) = range
        .start()
        .map_or((0, 0), |(r, c)| (r as usize, c as usize));
    let mut rows = Vec::new();
    for (i, cells) in range.rows().enumerate() {
        // Keep absolute column positions so that `cell = "B2"` means what Excel shows.
        let mut out = vec![String::new(); col0];
        out.extend(cells.iter().map(|c| cell_text(c, decimal)));
        rows.push(RawRow {
            row: row0 + i + 1,
            cells: out,
            problem: None,
        });
    }
    Ok(rows)
}

fn cell_text(cell: &Data, decimal: char) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string().replace('.', &decimal.to_string()),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => excel_date(d.as_f64()),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// Excel's serial date (days since 1899-12-30 in the 1900 system) as `YYYY-MM-DD`.
fn excel_date(serial: f64) -> String {
    chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
        .and_then(|epoch| epoch.checked_add_signed(chrono::Duration::days(serial.floor() as i64)))
        .map_or_else(|| serial.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_xlsxwriter::{Format, Workbook};

    fn workbook() -> Vec<u8> {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.set_name("Kalmar").expect("name");
        ws.merge_range(
            0,
            0,
            0,
            3,
            "Inskrivna, Kalmar kommun (0880), maj 2015",
            &Format::new(),
        )
        .expect("merge");
        ws.merge_range(1, 2, 1, 3, "Antal", &Format::new())
            .expect("merge");
        for (c, h) in ["Mått", "Ålder", "Kvinnor", "Män"].iter().enumerate() {
            ws.write_string(2, c as u16, *h).expect("header");
        }
        ws.write_string(3, 0, "Inskrivna").expect("cell");
        ws.write_string(3, 1, "16-24").expect("cell");
        ws.write_number(3, 2, 297.0).expect("cell");
        ws.write_string(3, 3, "<5").expect("cell");
        ws.write_number(4, 2, 12.5).expect("cell");
        wb.save_to_buffer().expect("xlsx")
    }

    #[test]
    fn merged_header_rows_and_typed_cells() {
        let rows = read(&workbook(), Some("Kalmar"), ',').expect("read");
        assert_eq!(rows[0].row, 1);
        assert_eq!(
            rows[0].cells[0],
            "Inskrivna, Kalmar kommun (0880), maj 2015"
        );
        assert_eq!(rows[3].cells, vec!["Inskrivna", "16-24", "297", "<5"]);
        assert_eq!(rows[4].cells[2], "12,5");
        let options = crate::format::TableOptions {
            header_rows: vec![2, 3],
            skip_trailing_rows: 0,
            trailing_row_matches: None,
            drop_rows_where: vec![],
            numbers: crate::normalize::value::NumberFormat::default(),
        };
        let t = crate::format::shape::shape_all(rows, &options).expect("shape");
        assert_eq!(
            t.columns,
            vec!["Mått", "Ålder", "Antal Kvinnor", "Antal Män"]
        );
    }

    #[test]
    fn missing_sheet_and_garbage() {
        assert!(
            read(&workbook(), Some("Nope"), ',')
                .expect_err("no sheet")
                .to_string()
                .contains("Kalmar")
        );
        assert!(read(b"not a zip", None, ',').is_err());
    }
}
