//! Self-check of the participant-register samples against the published
//! follow-ups of Norrköping (2012) and Skellefteå's Arbetsmarknadstorget
//! (2008-09 – 2009-06).
//!
//! The files are read back the way the product reads them (Windows-1252 CSV,
//! the workbook through calamine) and every count of the specification is
//! asserted from the bytes. The expected numbers are typed out here again on
//! purpose, so that a wrong table in the generator cannot confirm itself. Kön
//! comes from the number's second-to-last digit, ages from its birth date.
//!
//! This file has the shared helpers, Norrköping's checks and those of both
//! files; Skellefteå's workbook is checked in `deltagare_check_skelleftea.rs`.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::deltagare::{deltagare_files, write_deltagare};
use crate::selfcheck::{Counts, count, crlf_lines, expect, is_woman, luhn_ok, shipped_samples};
use crate::testpnr;

pub(super) fn file(name: &str) -> Vec<u8> {
    deltagare_files()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, bytes)| bytes)
        .expect("file is generated")
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("YYYY-MM-DD")
}

pub(super) fn d(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid literal date")
}

/// Completed years of the holder of a 12-digit number at `on`.
pub(super) fn age_at(number12: &str, on: NaiveDate) -> u32 {
    let birth =
        NaiveDate::parse_from_str(&number12[..8], "%Y%m%d").expect("number starts with a date");
    on.years_since(birth).expect("born before the date")
}

// ---------------------------------------------------------------------------
// Norrköping
// ---------------------------------------------------------------------------

pub(super) struct Row {
    /// Twelve digits, the dash removed.
    pub(super) number: String,
    insats: String,
    anordnare: String,
    start: NaiveDate,
    end: Option<NaiveDate>,
    code: String,
    followup: String,
}

impl Row {
    fn age(&self) -> u32 {
        age_at(&self.number, d(2012, 12, 31))
    }
    fn young(&self) -> bool {
        (18..=24).contains(&self.age())
    }
    fn h1(&self) -> bool {
        self.end.is_some_and(|end| end <= d(2012, 6, 30))
    }
    fn h2(&self) -> bool {
        self.end.is_some_and(|end| end >= d(2012, 7, 1))
    }
}

pub(super) fn norrkoping() -> Vec<Row> {
    let lines = crlf_lines(&file("norrkoping/deltagare_2012.csv"));
    assert_eq!(
        lines[0],
        "Personnummer;Insats;Anordnare;Startdatum;Slutdatum;Avslutskod;Uppföljning 6 mån"
    );
    lines[1..]
        .iter()
        .map(|line| {
            let f: Vec<&str> = line.split(';').collect();
            assert_eq!(f.len(), 7, "{line}");
            assert!(
                f[0].len() == 13 && f[0].as_bytes()[8] == b'-',
                "YYYYMMDD-NNNC: {line}"
            );
            Row {
                number: f[0].replace('-', ""),
                insats: f[1].to_owned(),
                anordnare: f[2].to_owned(),
                start: date(f[3]),
                end: (!f[4].is_empty()).then(|| date(f[4])),
                code: f[5].to_owned(),
                followup: f[6].to_owned(),
            }
        })
        .collect()
}

fn of<'a>(rows: &'a [Row], insats: &str) -> Vec<&'a Row> {
    rows.iter().filter(|r| r.insats == insats).collect()
}

fn codes(rows: &[&Row]) -> Counts {
    count(
        rows.iter()
            .filter(|r| r.end.is_some())
            .map(|r| r.code.as_str()),
    )
}

fn followups(rows: &[&Row]) -> Counts {
    count(
        rows.iter()
            .map(|r| r.followup.as_str())
            .filter(|f| !f.is_empty()),
    )
}

/// (young women, young men, older women, older men).
fn classes(rows: &[&Row]) -> (usize, usize, usize, usize) {
    let n = |young: bool, woman: bool| {
        rows.iter()
            .filter(|r| r.young() == young && is_woman(&r.number) == woman)
            .count()
    };
    (
        n(true, true),
        n(true, false),
        n(false, true),
        n(false, false),
    )
}

#[test]
fn norrkoping_rows_are_well_formed() {
    let rows = norrkoping();
    assert_eq!(rows.len(), 297 + 94 + 34 + 324);
    let numbers: BTreeSet<&str> = rows.iter().map(|r| r.number.as_str()).collect();
    assert_eq!(
        numbers.len(),
        rows.len(),
        "one row per person, all distinct"
    );
    let codes = [
        "Insats klar",
        "Insats avbruten",
        "Arbete",
        "Subv. arbete",
        "Studier",
        "Sjukdom",
        "Annan insats",
        "Eget företag",
    ];
    let followups = [
        "Arbete",
        "Arbetsmarknadspolitiskt program inom kommunen",
        "Arbetsmarknadspolitiskt program utanför kommunen",
        "Sjukskriven",
        "Studier - ej kommunala",
        "Vuxenutbildning",
        "Pension",
        "Annat",
        "Arbetslös",
        "Ej nådd",
    ];
    for row in &rows {
        assert!(
            testpnr::is_test_number(&row.number) && luhn_ok(&row.number),
            "{}",
            row.number
        );
        assert!(row.start <= d(2012, 12, 31), "{}", row.number);
        match row.end {
            Some(end) => {
                assert!(end > row.start && (d(2012, 1, 1)..=d(2012, 12, 31)).contains(&end));
                assert!(codes.contains(&row.code.as_str()), "{}", row.code);
            }
            None => assert_eq!(row.code, "", "ongoing participations have no Avslutskod"),
        }
        assert!(row.followup.is_empty() || followups.contains(&row.followup.as_str()));
        assert!((18..=57).contains(&row.age()), "{}", row.number);
    }
}

#[test]
fn praktik_matches_the_report() {
    let rows = norrkoping();
    let praktik = of(&rows, "Praktik");
    assert_eq!(praktik.len(), 297);
    assert_eq!(classes(&praktik), (32, 27, 163, 75));
    let older_ages: BTreeSet<u32> = praktik
        .iter()
        .filter(|r| !r.young())
        .map(|r| r.age())
        .collect();
    assert!(older_ages.iter().all(|a| (25..=57).contains(a)));
    assert!(
        older_ages.len() >= 15,
        "spread over the ages: {older_ages:?}"
    );
    assert!(older_ages.contains(&25) || older_ages.contains(&26));
    assert!(older_ages.iter().any(|&a| a >= 55));

    let from_2011: Vec<&&Row> = praktik.iter().filter(|r| r.start < d(2012, 1, 1)).collect();
    assert_eq!(from_2011.len(), 40);
    assert!(
        from_2011
            .iter()
            .all(|r| (d(2011, 8, 1)..=d(2011, 12, 20)).contains(&r.start))
    );
    assert!(praktik.iter().all(|r| r.start >= d(2011, 8, 1)));
    assert!(from_2011.iter().any(|r| r.end.is_some()));
    assert!(from_2011.iter().any(|r| r.end.is_none()));

    let ended: Vec<&Row> = praktik
        .iter()
        .copied()
        .filter(|r| r.end.is_some())
        .collect();
    assert_eq!(ended.len(), 182);
    assert_eq!(
        codes(&ended),
        expect(&[
            ("Annan insats", 20),
            ("Arbete", 11),
            ("Studier", 1),
            ("Insats avbruten", 26),
            ("Insats klar", 124)
        ])
    );
    let to_work = |woman: bool| {
        ended
            .iter()
            .filter(|r| r.code == "Arbete" && is_woman(&r.number) == woman)
            .count()
    };
    assert_eq!((to_work(true), to_work(false)), (6, 5));
    assert_eq!(followups(&praktik), Counts::new());
    assert_eq!(
        count(praktik.iter().map(|r| r.anordnare.as_str())),
        expect(&[
            ("Förskola och skola", 120),
            ("Äldreomsorg", 80),
            ("Privat arbetsgivare", 60),
            ("Ideell förening", 37)
        ])
    );
}

#[test]
fn utvecklingsanstallning_matches_the_report() {
    let rows = norrkoping();
    let ua = of(&rows, "Utvecklingsanställning");
    assert_eq!(ua.len(), 94);
    assert_eq!(ua.iter().filter(|r| !is_woman(&r.number)).count(), 57);
    assert_eq!(ua.iter().filter(|r| is_woman(&r.number)).count(), 37);
    assert!(ua.iter().all(|r| (20..=57).contains(&r.age())));
    assert_eq!(
        codes(&ua),
        expect(&[
            ("Arbete", 4),
            ("Subv. arbete", 12),
            ("Studier", 1),
            ("Insats klar", 49),
            ("Insats avbruten", 4)
        ])
    );
    let h1: Vec<&Row> = ua.iter().copied().filter(|r| r.h1()).collect();
    assert_eq!(h1.len(), 41);
    assert_eq!(ua.iter().filter(|r| r.h2()).count(), 29);
    assert_eq!(
        followups(&h1),
        expect(&[
            ("Arbete", 3),
            ("Arbetsmarknadspolitiskt program inom kommunen", 9),
            ("Arbetsmarknadspolitiskt program utanför kommunen", 1),
            ("Vuxenutbildning", 1),
            ("Annat", 1),
            ("Arbetslös", 5),
            ("Ej nådd", 21)
        ])
    );
    assert!(ua.iter().filter(|r| !r.h1()).all(|r| r.followup.is_empty()));
    assert!(ua.iter().all(|r| r.anordnare == "Arbetsmarknadskontoret"));
}

#[test]
fn nil_resursen_matches_the_report() {
    let rows = norrkoping();
    let nil = of(&rows, "Nil-resursen");
    assert_eq!(nil.len(), 34);
    assert_eq!(classes(&nil), (2, 12, 1, 19));
    assert_eq!(
        codes(&nil),
        expect(&[("Annan insats", 1), ("Studier", 1), ("Insats klar", 20)])
    );
    assert_eq!(followups(&nil), Counts::new());
    assert!(nil.iter().all(|r| r.anordnare == "Nil-resursen"));
}

#[test]
fn vagledning_matches_the_report() {
    let rows = norrkoping();
    let vagledning = of(&rows, "Vägledning");
    assert_eq!(vagledning.len(), 324);
    let women = vagledning.iter().filter(|r| is_woman(&r.number)).count();
    assert!((142..=182).contains(&women), "roughly half women: {women}");
    assert!(vagledning.iter().all(|r| (18..=57).contains(&r.age())));
    assert_eq!(
        codes(&vagledning),
        expect(&[
            ("Annan insats", 66),
            ("Studier", 4),
            ("Insats avbruten", 50),
            ("Insats klar", 98)
        ])
    );
    let onward: Vec<&&Row> = vagledning
        .iter()
        .filter(|r| r.code == "Annan insats")
        .collect();
    assert!(onward.iter().all(|r| r.h2()));
    let other = |half: fn(&Row) -> bool| {
        vagledning
            .iter()
            .copied()
            .filter(|r| r.code != "Annan insats" && half(r))
            .collect::<Vec<&Row>>()
    };
    let h1 = other(Row::h1);
    assert_eq!((h1.len(), other(Row::h2).len()), (50, 102));
    assert_eq!(
        followups(&h1),
        expect(&[
            ("Arbete", 2),
            ("Arbetsmarknadspolitiskt program inom kommunen", 7),
            ("Arbetsmarknadspolitiskt program utanför kommunen", 5),
            ("Sjukskriven", 1),
            ("Studier - ej kommunala", 3),
            ("Vuxenutbildning", 1),
            ("Annat", 8),
            ("Arbetslös", 2),
            ("Ej nådd", 21)
        ])
    );
    assert!(
        vagledning
            .iter()
            .filter(|r| !r.h1())
            .all(|r| r.followup.is_empty())
    );
    assert!(vagledning.iter().all(|r| r.anordnare == "AME Vägledning"));
}

// ---------------------------------------------------------------------------
// Both files
// ---------------------------------------------------------------------------

#[test]
fn generation_is_deterministic() {
    let first = deltagare_files();
    assert_eq!(first, deltagare_files());
    let names: Vec<&str> = first.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "norrkoping/deltagare_2012.csv",
            "skelleftea/amt_deltagare_2009.xlsx"
        ]
    );
    let dir = std::env::temp_dir().join(format!("malgrupp-deltagare-{}", std::process::id()));
    let written = write_deltagare(&dir).expect("writes to a temp dir");
    assert_eq!(written.len(), first.len());
    for (path, (name, bytes)) in written.iter().zip(&first) {
        assert_eq!(path, &dir.join(name));
        assert_eq!(&std::fs::read(path).expect("written file"), bytes);
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// The shipped samples (under `samples/` of the crate, when present) are
/// exactly what the generator writes: regenerate them with
/// [`write_deltagare`] when this fails.
#[test]
fn shipped_samples_match_the_generator() {
    let root = shipped_samples();
    if !root.exists() {
        return;
    }
    for (name, bytes) in deltagare_files() {
        let shipped = std::fs::read(root.join(&name)).expect("shipped sample file");
        assert!(
            shipped == bytes,
            "samples/{name} differs from the generator"
        );
    }
}

/// Rewrites the shipped samples from the generator; run on purpose only:
/// `cargo test -p malgrupp-sample --lib deltagare_check::regenerate -- --ignored`.
#[test]
#[ignore = "writes into the source tree"]
fn regenerate_shipped_samples() {
    let root = shipped_samples();
    write_deltagare(&root).expect("writes the samples");
}
