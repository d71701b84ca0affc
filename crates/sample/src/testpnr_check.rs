//! Self-check of [`testpnr`](crate::testpnr): its rule pinned to literal entries of
//! Skatteverket's published list, every produced number a well-formed one with a valid
//! check digit, and nothing produced outside the checked spans.
//!
//! Only the module's public functions are used, the way the generators use them; the
//! Luhn check here is written independently of the module's own, so that a wrong check
//! digit there cannot confirm itself.

use chrono::NaiveDate;

use crate::testpnr::{
    EARLIEST_BIRTH_DATE, FIRST_BIRTH_DATE, LAST_BIRTH_DATE, LISTED, is_test_number,
    numbers_between, test_number,
};
use crate::ymd;

/// Independent Luhn validation of a full 12-digit number's last ten digits.
fn luhn_ok(number: &str) -> bool {
    let digits: Vec<u32> = number[2..].chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2 == 1, d * 2) {
            (true, doubled) if doubled > 9 => doubled - 9,
            (true, doubled) => doubled,
            (false, _) => d,
        })
        .sum();
    digits.len() == 10 && sum.is_multiple_of(10)
}

fn date_of(number: &str) -> NaiveDate {
    NaiveDate::parse_from_str(&number[..8], "%Y%m%d").expect("literal entry has a valid date")
}

/// Literal entries of Skatteverket's published list.
const PUBLISHED: [&str; 40] = [
    "195501142284",
    "196207142842",
    "197503309176",
    "198501139995",
    "198912232389",
    "199001142380",
    "199001142398",
    "199006302385",
    "199008302391",
    "199101132380",
    "199101132398",
    "199101142397",
    "199101152388",
    "199102282390",
    "199106302384",
    "199112312393",
    "199202182383",
    "199212132386",
    "199212132394",
    "199305312390",
    "199312312383",
    "199401012399",
    "199401022380",
    "199412312390",
    "199501012380",
    "199506012393",
    "199512312381",
    "199601012397",
    "199602292386",
    "199612312380",
    "199701012396",
    "199706012383",
    "199801012387",
    "199806012390",
    "199803122382",
    "199810012394",
    "199901022385",
    "199906012381",
    "199912312395",
    "198606089889",
];

#[test]
fn rule_reproduces_published_entries() {
    for entry in PUBLISHED {
        let woman = entry.as_bytes()[10] % 2 == 0;
        assert_eq!(
            test_number(date_of(entry), woman).as_deref(),
            Some(entry),
            "{entry}"
        );
        assert!(is_test_number(entry), "{entry}");
    }
}

#[test]
fn one_per_date_span_has_only_the_published_gender() {
    for entry in PUBLISHED
        .iter()
        .filter(|e| e[..4].parse::<i32>().unwrap_or(0) >= 1994)
    {
        let woman = entry.as_bytes()[10] % 2 == 0;
        assert_eq!(test_number(date_of(entry), !woman), None, "{entry}");
    }
}

#[test]
fn nothing_outside_the_spans() {
    for woman in [false, true] {
        assert_eq!(test_number(ymd(1999, 1, 1), woman), None);
        // The list has 199001132399, but span A0 starts the next day.
        assert_eq!(test_number(ymd(1990, 1, 13), woman), None);
        assert_eq!(test_number(ymd(1992, 2, 19), woman), None);
        assert_eq!(test_number(ymd(1992, 12, 12), woman), None);
        assert_eq!(test_number(ymd(2000, 1, 1), woman), None);
        // A date without a listed entry in the rule-less years.
        assert_eq!(test_number(ymd(1985, 1, 1), woman), None);
        assert_eq!(
            numbers_between(ymd(1900, 1, 1), ymd(1955, 1, 13), woman).count(),
            0
        );
        assert_eq!(
            numbers_between(ymd(1989, 12, 24), ymd(1990, 1, 13), woman).count(),
            0
        );
    }
    // Entries of the list that the spans leave out are not produced either.
    assert!(!is_test_number("199001132399"));
    assert!(!is_test_number("199011102010"));
}

#[test]
fn every_generated_number_passes_luhn_and_round_trips() {
    let mut count = 0;
    for woman in [false, true] {
        for (date, number) in numbers_between(ymd(1980, 1, 1), ymd(2010, 1, 1), woman) {
            assert!(luhn_ok(&number), "{number}");
            assert_eq!(date_of(&number), date);
            assert_eq!(number.as_bytes()[10] % 2 == 0, woman, "{number}");
            assert!(is_test_number(&number));
            count += 1;
        }
    }
    // Spans A0, A and B have two numbers per date, span C one (less the
    // missing date); 240 of the listed entries are born in the 1980s.
    let both = (ymd(1992, 2, 18) - ymd(1990, 1, 14)).num_days()
        + 1
        + (ymd(1993, 12, 31) - ymd(1992, 12, 13)).num_days()
        + 1;
    let one = (ymd(1999, 12, 31) - ymd(1994, 1, 1)).num_days() + 1 - 1;
    assert_eq!(count, 2 * both + one + 240);
}

#[test]
fn the_kalmar_pool_range_is_unchanged() {
    // The Kalmar pool draws from FIRST_BIRTH_DATE: spans A, B and C only.
    let count: usize = [false, true]
        .into_iter()
        .map(|woman| numbers_between(FIRST_BIRTH_DATE, LAST_BIRTH_DATE, woman).count())
        .sum();
    let both = (ymd(1992, 2, 18) - ymd(1991, 1, 14)).num_days()
        + 1
        + (ymd(1993, 12, 31) - ymd(1992, 12, 13)).num_days()
        + 1;
    let one = (ymd(1999, 12, 31) - ymd(1994, 1, 1)).num_days() + 1 - 1;
    assert_eq!(count as i64, 2 * both + one);
}

#[test]
fn listed_entries_are_sorted_valid_and_produced() {
    assert_eq!(LISTED.len(), 610);
    assert_eq!(LISTED[0], "195501142284");
    assert_eq!(LISTED[609], "198912232389");
    assert_eq!(date_of(LISTED[0]), EARLIEST_BIRTH_DATE);
    assert!(
        LISTED.windows(2).all(|pair| pair[0] < pair[1]),
        "sorted, distinct"
    );
    for entry in LISTED {
        assert!(entry.len() == 12 && luhn_ok(entry), "{entry}");
        let date = date_of(entry);
        assert!((ymd(1955, 1, 1)..=ymd(1989, 12, 31)).contains(&date));
        let woman = entry.as_bytes()[10] % 2 == 0;
        assert!(
            numbers_between(date, date, woman).any(|(_, number)| number == entry),
            "{entry}"
        );
        assert!(is_test_number(entry));
    }
    let produced: usize = [false, true]
        .into_iter()
        .map(|woman| numbers_between(ymd(1955, 1, 1), ymd(1989, 12, 31), woman).count())
        .sum();
    assert_eq!(produced, 610);
}

#[test]
fn a_date_with_several_listed_entries_yields_them_all() {
    // The list has ten entries born 1955-03-07: five men and five women.
    let men: Vec<String> = numbers_between(ymd(1955, 3, 7), ymd(1955, 3, 7), false)
        .map(|(_, number)| number)
        .collect();
    assert_eq!(
        men,
        [
            "195503071739",
            "195503071754",
            "195503071770",
            "195503071796",
            "195503071812"
        ]
    );
    assert_eq!(
        numbers_between(ymd(1955, 3, 7), ymd(1955, 3, 7), true).count(),
        5
    );
}

#[test]
fn broken_check_digit_is_not_a_test_number() {
    assert!(!is_test_number("199101142398"));
    assert!(!is_test_number("19910114-2397"));
    assert!(!is_test_number("9101142397"));
}
