//! Self-check of Skellefteå's Arbetsmarknadstorget workbook
//! (`skelleftea/amt_deltagare_2009.xlsx`) against the project's fact box: the
//! sheet's layout, persons by kön and age, exits by cause, and that nobody is
//! also in Norrköping's register. The shared helpers and Norrköping's checks
//! are in `deltagare_check.rs`.
//!
//! The workbook is read through calamine, as the product reads it, and the
//! expected numbers are typed out again on purpose (see `deltagare_check.rs`).

use std::collections::BTreeSet;
use std::io::Cursor;

use calamine::{Data, Dimensions, Reader, Xlsx};
use chrono::NaiveDate;

use crate::deltagare_check::{age_at, d, file, norrkoping};
use crate::selfcheck::{count, expect, is_woman};
use crate::testpnr;

/// Excel's serial date (1900 system) as a calendar date.
fn excel_day(cell: &Data) -> NaiveDate {
    let Data::DateTime(value) = cell else {
        panic!("not a date cell: {cell:?}");
    };
    assert!(value.is_datetime());
    d(1899, 12, 30) + chrono::Days::new(value.as_f64() as u64)
}

#[test]
fn skelleftea_workbook_matches_the_report() {
    let bytes = file("skelleftea/amt_deltagare_2009.xlsx");
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).expect("readable workbook");
    assert_eq!(book.sheet_names(), ["Deltagare"]);
    let merged = book
        .merge_cells_by_sheet_name("Deltagare")
        .expect("merged cells");
    assert_eq!(
        merged,
        [Dimensions {
            start: (0, 0),
            end: (0, 3)
        }]
    );
    let sheet = book.worksheet_range("Deltagare").expect("sheet");
    let text = |row: u32, col: u32| match sheet.get_value((row, col)) {
        Some(Data::String(s)) => s.clone(),
        other => panic!("({row}, {col}) is not text: {other:?}"),
    };
    assert_eq!(
        text(0, 0),
        "Arbetsmarknadstorget Skellefteå – deltagare 2008-09-15 – 2009-06-30"
    );
    let headers: Vec<String> = (0..4).map(|col| text(1, col)).collect();
    assert_eq!(
        headers,
        ["Personnummer", "Startdatum", "Slutdatum", "Avslutsorsak"]
    );
    assert_eq!(sheet.height(), 2 + 93);

    let norrkoping: BTreeSet<String> = norrkoping().into_iter().map(|r| r.number).collect();
    let mut numbers = BTreeSet::new();
    let mut causes: Vec<(bool, String)> = Vec::new();
    for row in 2..2 + 93 {
        let short = text(row, 0);
        assert!(
            short.len() == 11 && short.as_bytes()[6] == b'-',
            "YYMMDD-NNNC: {short}"
        );
        // Everyone is born in the 1980s or 1990 (aged 19–25 in 2009).
        let number = format!("19{}{}", &short[..6], &short[7..]);
        assert!(testpnr::is_test_number(&number), "{number}");
        assert!(
            (19..=25).contains(&age_at(&number, d(2009, 12, 31))),
            "{number}"
        );
        assert!(
            !norrkoping.contains(&number),
            "{number} is also in Norrköping"
        );
        let start = excel_day(sheet.get_value((row, 1)).expect("start"));
        let end = excel_day(sheet.get_value((row, 2)).expect("end"));
        assert!(
            (d(2008, 9, 15)..=d(2009, 3, 31)).contains(&start),
            "{start}"
        );
        assert!(end > start && end <= d(2009, 6, 30), "{start} – {end}");
        causes.push((is_woman(&number), text(row, 3)));
        assert!(numbers.insert(number), "distinct persons");
    }
    assert_eq!(numbers.iter().filter(|n| !is_woman(n)).count(), 73);
    assert_eq!(numbers.iter().filter(|n| is_woman(n)).count(), 20);
    let by = |woman: bool| count(causes.iter().filter(|c| c.0 == woman).map(|c| c.1.as_str()));
    assert_eq!(
        by(true),
        expect(&[
            ("Arbete", 7),
            ("Studier", 1),
            ("Planerat avbrott", 11),
            ("Oplanerat avbrott", 1)
        ])
    );
    assert_eq!(
        by(false),
        expect(&[
            ("Arbete", 23),
            ("Studier", 7),
            ("Planerat avbrott", 36),
            ("Oplanerat avbrott", 7)
        ])
    );
}
