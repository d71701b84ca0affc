//! Skellefteå's project list of Arbetsmarknadstorget, 2008-09 – 2009-06
//! (`skelleftea/amt_deltagare_2009.xlsx`): the project's fact box (persons by
//! kön, exits by cause), the ages we spread them over, and the workbook with
//! real Excel date cells.

use std::io;

use chrono::{Datelike, Days, NaiveDate};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, XlsxError};

use crate::pool::Person;
use crate::rng::SplitMix64;
use crate::ymd;

use super::{Supply, day_in};

/// The sheet's name.
const AMT_SHEET: &str = "Deltagare";
/// The merged title in A1:D1.
const AMT_TITLE: &str = "Arbetsmarknadstorget Skellefteå – deltagare 2008-09-15 – 2009-06-30";
const AMT_HEADERS: [&str; 4] = ["Personnummer", "Startdatum", "Slutdatum", "Avslutsorsak"];
/// Ages are completed years at the end of the project's second year.
const AMT_AGE_DATE: NaiveDate = ymd(2009, 12, 31);
const AMT_START: (NaiveDate, NaiveDate) = (ymd(2008, 9, 15), ymd(2009, 3, 31));
const AMT_LAST_END: NaiveDate = ymd(2009, 6, 30);
/// Persons by age at [`AMT_AGE_DATE`]: (age, men, women). The report gives
/// only the span 19–25; this spread over the ages is ours.
const AMT_AGES: [(u32, usize, usize); 7] = [
    (19, 14, 4),
    (20, 12, 4),
    (21, 12, 3),
    (22, 11, 3),
    (23, 10, 3),
    (24, 8, 2),
    (25, 6, 1),
];
/// Avslutsorsak: (cause, men, women).
const AMT_CAUSES: [(&str, usize, usize); 4] = [
    ("Arbete", 23, 7),
    ("Studier", 7, 1),
    ("Planerat avbrott", 36, 11),
    ("Oplanerat avbrott", 7, 1),
];

pub(super) struct AmtRow {
    person: Person,
    start: NaiveDate,
    end: NaiveDate,
    cause: &'static str,
}

pub(super) fn skelleftea_rows(
    rng: &mut SplitMix64,
    supply: &mut Supply,
) -> io::Result<Vec<AmtRow>> {
    let mut rows = Vec::new();
    for woman in [false, true] {
        let of = |men: usize, women: usize| if woman { women } else { men };
        let ages = rng.shuffled(&AMT_AGES.map(|(age, men, women)| (age, of(men, women))));
        let causes = rng.shuffled(&AMT_CAUSES.map(|(cause, men, women)| (cause, of(men, women))));
        if causes.len() != ages.len() {
            return Err(io::Error::other(
                "Skellefteå causes and ages differ in count",
            ));
        }
        for (age, cause) in ages.into_iter().zip(causes) {
            let person = supply.take(rng, woman, &(age..=age), AMT_AGE_DATE)?;
            let start = day_in(rng, AMT_START);
            // Between two weeks and eight months, and the project closed at
            // the end of June: late starters all leave then.
            let days = 14 + rng.below(227) as u64;
            let end = (start + Days::new(days)).min(AMT_LAST_END);
            rows.push(AmtRow {
                person,
                start,
                end,
                cause,
            });
        }
    }
    // The project kept its list in order of enrolment.
    rows.sort_by(|a, b| (a.start, &a.person.number).cmp(&(b.start, &b.person.number)));
    Ok(rows)
}

/// An Excel date cell value; the project's dates all lie in 2008–2009.
fn excel_date(date: NaiveDate) -> Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_ymd(date.year() as u16, date.month() as u8, date.day() as u8)
}

pub(super) fn skelleftea_workbook(rows: &[AmtRow]) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    // A fixed creation time: otherwise the library stamps "now" into
    // docProps/core.xml and the shipped file would differ on every run.
    let created = ExcelDateTime::from_ymd(2009, 7, 1)?.and_hms(8, 0, 0)?;
    let properties = DocProperties::new()
        .set_title(AMT_TITLE)
        .set_author("Skellefteå kommun, Arbetsmarknadstorget")
        .set_creation_datetime(&created);
    workbook.set_properties(&properties);

    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let sheet = workbook.add_worksheet();
    sheet.set_name(AMT_SHEET)?;
    sheet.merge_range(0, 0, 0, 3, AMT_TITLE, &bold)?;
    for (col, header) in (0u16..).zip(AMT_HEADERS) {
        sheet.write_string_with_format(1, col, header, &bold)?;
    }
    for (row, entry) in (2u32..).zip(rows) {
        // Text, not a number: a personnummer keeps its dash and leading zero.
        sheet.write_string(row, 0, entry.person.short_with_dash())?;
        sheet.write_date_with_format(row, 1, excel_date(entry.start)?, &date)?;
        sheet.write_date_with_format(row, 2, excel_date(entry.end)?, &date)?;
        sheet.write_string(row, 3, entry.cause)?;
    }
    sheet.set_column_width(0, 14)?;
    sheet.set_column_width(1, 12)?;
    sheet.set_column_width(2, 12)?;
    sheet.set_column_width(3, 20)?;
    workbook.save_to_buffer()
}
