//! Self-check of the generated sample set against the published figures:
//! shared parsing helpers, the KAA and hourly registers, and what spans files.
//! The försörjningsstöd checks are in `selfcheck_fs.rs`.
//!
//! The files are parsed back the way the product would read them (Windows-1252
//! decoded, split on the file's own line ending) and every figure of the
//! specification is asserted from the bytes. The expected numbers are written
//! out here again on purpose, so that a wrong table in the generator cannot
//! confirm itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::selfcheck_fs::fs_split;
use crate::{age_at_reference, kalmar_files, testpnr, write_kalmar};

pub(super) type Counts = BTreeMap<String, usize>;

/// The repository's `samples/` folder, which ships the generated files: two
/// levels above this crate (`crates/sample`).
pub(super) fn shipped_samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples")
}

fn files() -> BTreeMap<String, Vec<u8>> {
    kalmar_files().into_iter().collect()
}

pub(super) fn file(name: &str) -> Vec<u8> {
    files().remove(name).expect("file is generated")
}

/// Lines of a CRLF file, checking every line (the last too) ends in CRLF.
pub(super) fn crlf_lines(bytes: &[u8]) -> Vec<String> {
    assert!(!bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "no BOM");
    let (text, had_errors) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
    assert!(!had_errors);
    assert!(text.ends_with("\r\n"));
    let lines: Vec<String> = text[..text.len() - 2]
        .split("\r\n")
        .map(str::to_owned)
        .collect();
    assert!(lines.iter().all(|l| !l.contains('\n') && !l.contains('\r')));
    lines
}

pub(super) fn birth_of(number12: &str) -> NaiveDate {
    NaiveDate::parse_from_str(&number12[..8], "%Y%m%d").expect("number starts with a date")
}

pub(super) fn age_of(number12: &str) -> u32 {
    age_at_reference(birth_of(number12)).expect("born before the reference date")
}

/// Kön from the second-to-last digit: even is a woman.
pub(super) fn is_woman(number12: &str) -> bool {
    number12.as_bytes()[10].is_multiple_of(2)
}

pub(super) fn count<'a>(values: impl IntoIterator<Item = &'a str>) -> Counts {
    let mut counts = Counts::new();
    for value in values {
        *counts.entry(value.to_owned()).or_default() += 1;
    }
    counts
}

pub(super) fn expect(pairs: &[(&str, usize)]) -> Counts {
    pairs
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|&(k, n)| (k.to_owned(), n))
        .collect()
}

pub(super) fn ages_expect(pairs: &[(u32, usize)]) -> BTreeMap<u32, usize> {
    pairs.iter().copied().collect()
}

pub(super) fn age_counts<'a>(numbers: impl IntoIterator<Item = &'a str>) -> BTreeMap<u32, usize> {
    let mut counts = BTreeMap::new();
    for number in numbers {
        *counts.entry(age_of(number)).or_default() += 1;
    }
    counts
}

pub(super) fn luhn_ok(number12: &str) -> bool {
    let sum: u32 = number12[2..]
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                (d * 2) / 10 + (d * 2) % 10
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

// ---------------------------------------------------------------------------
// KAA
// ---------------------------------------------------------------------------

struct Kaa {
    /// Rows as fields; the number expanded to 12 digits.
    rows: Vec<Vec<String>>,
}

fn kaa() -> Kaa {
    let lines = crlf_lines(&file("kaa_2015-06-15.csv"));
    assert_eq!(
        lines[0],
        "Kommunernas aktivitetsansvar;Kalmarsunds gymnasieförbund;Uttag 2015-06-15"
    );
    assert_eq!(
        lines[1],
        "Personnummer;Registreringsdatum;Orsak till registrering;Aktuell sysselsättning;Planerad avregistrering;Åtgärd"
    );
    assert_eq!(lines.last().map(String::as_str), Some("Summa;115;;;;"));
    let rows: Vec<Vec<String>> = lines[2..lines.len() - 1]
        .iter()
        .map(|line| {
            let mut fields: Vec<String> = line.split(';').map(str::to_owned).collect();
            assert_eq!(fields.len(), 6, "{line}");
            let short = &fields[0];
            assert!(
                short.len() == 11 && short.as_bytes()[6] == b'-',
                "YYMMDD-NNNC: {short}"
            );
            // Every KAA person is born in the 1990s (aged 16–19 in 2015).
            fields[0] = format!("19{}{}", &short[..6], &short[7..]);
            fields
        })
        .collect();
    Kaa { rows }
}

#[test]
fn kaa_register_matches_the_report() {
    let kaa = kaa();
    assert_eq!(kaa.rows.len(), 115);
    let numbers: Vec<&str> = kaa.rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        numbers.iter().collect::<BTreeSet<_>>().len(),
        115,
        "distinct persons"
    );
    assert!(numbers.iter().all(|n| testpnr::is_test_number(n)));
    assert_eq!(numbers.iter().filter(|n| !is_woman(n)).count(), 74);
    assert_eq!(numbers.iter().filter(|n| is_woman(n)).count(), 41);
    let ages = age_counts(numbers.iter().copied());
    assert!(ages.keys().all(|a| (16..=19).contains(a)), "{ages:?}");
    assert_eq!(ages.len(), 4, "spread over the four ages: {ages:?}");

    let first = NaiveDate::from_ymd_opt(2013, 8, 15);
    let last = NaiveDate::from_ymd_opt(2015, 5, 20);
    for row in &kaa.rows {
        let registered = NaiveDate::parse_from_str(&row[1], "%Y-%m-%d").ok();
        assert!(registered >= first && registered <= last, "{}", row[1]);
        // Nobody is registered before the August they leave compulsory school.
        let birth = birth_of(&row[0]);
        let left_school = NaiveDate::from_ymd_opt(chrono::Datelike::year(&birth) + 16, 8, 15);
        assert!(
            registered >= left_school,
            "{} registered {}",
            row[0],
            row[1]
        );
    }
    let column = |i: usize| count(kaa.rows.iter().map(|r| r[i].as_str()));
    assert_eq!(
        column(2),
        expect(&[
            ("Introduktionsprogram", 40),
            ("Avbrott nationellt program", 45),
            ("Studiebevis", 20),
            ("Aldrig studerat", 10)
        ])
    );
    assert_eq!(
        column(3),
        expect(&[
            ("Studier", 10),
            ("Arbete", 12),
            ("Praktik", 15),
            ("Insats", 30),
            ("Ingen sysselsättning", 28),
            ("Okänd", 20)
        ])
    );
    assert_eq!(column(4), expect(&[("Ja", 35), ("Nej", 80)]));
    assert_eq!(
        column(5),
        expect(&[
            ("Enstaka samtal", 50),
            ("Regelbundna samtal", 40),
            ("Studie- och yrkesvägledning", 25)
        ])
    );
}

// ---------------------------------------------------------------------------
// Hourly employees
// ---------------------------------------------------------------------------

fn hourly_rows() -> Vec<Vec<String>> {
    let bytes = file("timanstallda_2015-05.csv");
    let text = String::from_utf8(bytes).expect("UTF-8");
    let text = text.strip_prefix('\u{feff}').expect("starts with a BOM");
    assert!(!text.contains('\r'), "LF line endings");
    assert!(text.ends_with('\n'));
    let mut lines = text[..text.len() - 1].split('\n');
    assert_eq!(
        lines.next(),
        Some("Personnummer;Förvaltning;Befattning;Anställningsform;Timmar maj")
    );
    lines
        .map(|line| {
            let mut fields: Vec<String> = line.split(';').map(str::to_owned).collect();
            assert_eq!(fields.len(), 5, "{line}");
            let long = &fields[0];
            assert!(long.len() == 13 && long.as_bytes()[8] == b'-', "{long}");
            fields[0] = long.replace('-', "");
            fields
        })
        .collect()
}

#[test]
fn hourly_register_matches_the_report() {
    let rows = hourly_rows();
    assert_eq!(rows.len(), 195);
    let numbers: BTreeSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(numbers.len(), 195, "distinct persons");
    assert!(numbers.iter().all(|n| testpnr::is_test_number(n)));
    let women = age_counts(numbers.iter().copied().filter(|n| is_woman(n)));
    let men = age_counts(numbers.iter().copied().filter(|n| !is_woman(n)));
    assert_eq!(
        women,
        ages_expect(&[
            (18, 3),
            (19, 21),
            (20, 29),
            (21, 32),
            (22, 30),
            (23, 25),
            (24, 21)
        ])
    );
    assert_eq!(
        men,
        ages_expect(&[(19, 2), (20, 5), (21, 10), (22, 6), (23, 5), (24, 6)])
    );
    for (admin, total, w, m) in [
        ("Äldreomsorg", 121, 104, 17),
        ("Barnomsorg", 8, 6, 2),
        ("Kost", 8, 7, 1),
        ("Lokalvård", 58, 44, 14),
    ] {
        let staff: Vec<&Vec<String>> = rows.iter().filter(|r| r[1] == admin).collect();
        assert_eq!(staff.len(), total, "{admin}");
        assert_eq!(
            staff.iter().filter(|r| is_woman(&r[0])).count(),
            w,
            "{admin}"
        );
        assert_eq!(
            staff.iter().filter(|r| !is_woman(&r[0])).count(),
            m,
            "{admin}"
        );
    }
    for row in &rows {
        assert_eq!(row[3], "Timanställd");
        assert!(!row[2].is_empty());
        let (whole, tenth) = row[4].split_once(',').expect("decimal comma");
        assert_eq!(tenth.len(), 1, "{}", row[4]);
        let hours =
            whole.parse::<u32>().expect("hours") * 10 + tenth.parse::<u32>().expect("tenth");
        assert!((40..=1200).contains(&hours), "{}", row[4]);
    }
}

// ---------------------------------------------------------------------------
// Across files
// ---------------------------------------------------------------------------

#[test]
fn kaa_and_fs_share_exactly_three_persons_and_hourly_shares_none() {
    let kaa = kaa();
    let (good, _broken, unknown) = fs_split();
    let kaa_numbers: BTreeSet<&str> = kaa.rows.iter().map(|r| r[0].as_str()).collect();
    let fs_numbers: BTreeSet<&str> = good
        .iter()
        .chain(std::iter::once(&unknown))
        .map(|r| r[0].as_str())
        .collect();
    let shared: Vec<&&str> = kaa_numbers.intersection(&fs_numbers).collect();
    assert_eq!(shared.len(), 3);
    for number in shared {
        let fs_row = good.iter().find(|r| r[0] == **number).expect("in FS");
        assert_eq!(
            (fs_row[2].as_str(), fs_row[3].as_str()),
            ("Arbetslöshet", "Endast FS som inkomstkälla")
        );
        assert_eq!(fs_row[4], "N");
        let kaa_row = kaa.rows.iter().find(|r| r[0] == **number).expect("in KAA");
        assert_eq!(kaa_row[3], "Ingen sysselsättning");
        assert!([18, 19].contains(&age_of(number)));
    }
    let hourly = hourly_rows();
    for row in &hourly {
        assert!(!kaa_numbers.contains(row[0].as_str()));
        assert!(!fs_numbers.contains(row[0].as_str()));
    }
}

#[test]
fn workbook_is_a_zip_package() {
    let bytes = file("af_inskrivna_2015-05.xlsx");
    assert!(bytes.starts_with(b"PK\x03\x04"));
}

#[test]
fn generation_is_deterministic() {
    let first = kalmar_files();
    let second = kalmar_files();
    assert_eq!(first, second);
    let names: Vec<&str> = first.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "kaa_2015-06-15.csv",
            "fs_201505.csv",
            "timanstallda_2015-05.csv",
            "af_inskrivna_2015-05.xlsx"
        ]
    );

    let dir = std::env::temp_dir().join(format!("malgrupp-sample-{}", std::process::id()));
    let written = write_kalmar(&dir).expect("writes to a temp dir");
    for (path, (name, bytes)) in written.iter().zip(&first) {
        assert_eq!(path, &dir.join(name));
        assert_eq!(&std::fs::read(path).expect("written file"), bytes);
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// The shipped samples (under `samples/kalmar` of the crate, when present) are
/// exactly what the generator writes: regenerate them when this fails.
#[test]
fn shipped_samples_match_the_generator() {
    let dir = shipped_samples().join("kalmar");
    if !dir.exists() {
        return;
    }
    for (name, bytes) in kalmar_files() {
        let shipped = std::fs::read(dir.join(&name)).expect("shipped sample file");
        assert!(
            shipped == bytes,
            "samples/kalmar/{name} differs from the generator"
        );
    }
}
