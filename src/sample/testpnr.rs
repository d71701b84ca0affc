//! Skatteverket's test personnummer: the only identity numbers the samples use.
//!
//! # Provenance
//!
//! Skatteverket publishes a list of test personnummer that are never assigned
//! to real people, precisely so that systems can be tested without touching
//! anyone's identity. The entries of that list for the birth dates below
//! follow a simple rule, which was checked against the published list excerpt
//! by excerpt; födelsenummer 238 is even (a woman), 239 is odd (a man), and the
//! last digit is the Luhn check digit over the ten-digit form `YYMMDDNNN`:
//!
//! - span A, 1991-01-14 ..= 1992-02-18: both 238 and 239 exist for every date;
//! - span B, 1992-12-13 ..= 1993-12-31: both 238 and 239 exist for every date;
//! - span C, 1994-01-01 ..= 1999-12-31: exactly one number per date, serial 239
//!   (a man) if the day of the year is odd XOR the year is 1995 or 1998,
//!   otherwise 238 (a woman); 1999-01-01 has no entry.
//!
//! # Why this is safe
//!
//! [`test_number`] only ever returns numbers of Skatteverket's published test
//! list: the rule is applied only inside the spans where it was checked
//! against the list, and nothing outside the spans is ever produced (`None`
//! instead). A test below pins the rule to literal entries of the list.

use chrono::{Datelike, NaiveDate};

use super::ymd;

/// First birth date for which a test number is produced.
pub const FIRST_BIRTH_DATE: NaiveDate = ymd(1991, 1, 14);
/// Last birth date for which a test number is produced.
pub const LAST_BIRTH_DATE: NaiveDate = ymd(1999, 12, 31);

/// Birth dates where the list has both a woman's (238) and a man's (239) number.
const BOTH_GENDERS: [(NaiveDate, NaiveDate); 2] = [
    (FIRST_BIRTH_DATE, ymd(1992, 2, 18)),
    (ymd(1992, 12, 13), ymd(1993, 12, 31)),
];
/// Birth dates where the list has one number per date, gender by [`serial_in_one_per_date_span`].
const ONE_PER_DATE: (NaiveDate, NaiveDate) = (ymd(1994, 1, 1), LAST_BIRTH_DATE);
/// The one date inside the one-per-date span that the list skips.
const MISSING_DATE: NaiveDate = ymd(1999, 1, 1);

const WOMAN_SERIAL: u32 = 238;
const MAN_SERIAL: u32 = 239;

/// The 12-digit test personnummer `YYYYMMDDNNNC` for a birth date and gender.
///
/// `None` outside the checked spans, or where the list has no number of that
/// gender on that date.
pub fn test_number(date: NaiveDate, woman: bool) -> Option<String> {
    let wanted = if woman { WOMAN_SERIAL } else { MAN_SERIAL };
    let serial = if BOTH_GENDERS
        .iter()
        .any(|&(first, last)| (first..=last).contains(&date))
    {
        wanted
    } else if (ONE_PER_DATE.0..=ONE_PER_DATE.1).contains(&date) && date != MISSING_DATE {
        let serial = serial_in_one_per_date_span(date);
        if serial != wanted {
            return None;
        }
        serial
    } else {
        return None;
    };
    let short = format!(
        "{:02}{:02}{:02}{serial}",
        date.year() % 100,
        date.month(),
        date.day()
    );
    let check = luhn_check_digit(&short);
    Some(format!("{}{short}{check}", date.year() / 100))
}

/// The serial the list has in span C: the published pattern alternates by day
/// of year, with the phase flipped in 1995 and 1998.
fn serial_in_one_per_date_span(date: NaiveDate) -> u32 {
    let odd_day = date.ordinal() % 2 == 1;
    let flipped_year = matches!(date.year(), 1995 | 1998);
    if odd_day ^ flipped_year {
        MAN_SERIAL
    } else {
        WOMAN_SERIAL
    }
}

/// All test numbers of one gender with a birth date in `first..=last`, in date order.
pub fn numbers_between(
    first: NaiveDate,
    last: NaiveDate,
    woman: bool,
) -> impl Iterator<Item = (NaiveDate, String)> {
    // Clamp to the spans so a wide range does not walk centuries of empty days.
    let first = first.max(FIRST_BIRTH_DATE);
    let last = last.min(LAST_BIRTH_DATE);
    first
        .iter_days()
        .take_while(move |date| *date <= last)
        .filter_map(move |date| test_number(date, woman).map(|number| (date, number)))
}

/// Whether `number` (12 digits, `YYYYMMDDNNNC`) is one this module produces.
///
/// True exactly for the test numbers of the checked spans; false for anything
/// else, including a test number with a wrong check digit.
pub fn is_test_number(number: &str) -> bool {
    if number.len() != 12 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let field = |range: std::ops::Range<usize>| number[range].parse::<u32>().ok();
    let (Some(year), Some(month), Some(day), Some(serial)) =
        (field(0..4), field(4..6), field(6..8), field(8..11))
    else {
        return false;
    };
    let Some(date) = i32::try_from(year)
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, month, day))
    else {
        return false;
    };
    test_number(date, serial % 2 == 0).as_deref() == Some(number)
}

/// Luhn check digit over the ten-digit form's first nine digits, as Skatteverket computes it.
fn luhn_check_digit(nine_digits: &str) -> u32 {
    let sum: u32 = nine_digits
        .bytes()
        .map(|b| u32::from(b - b'0'))
        .enumerate()
        .map(|(i, digit)| {
            // Weights 2,1,2,1,… from the left; a two-digit product counts by its digits.
            let product = if i % 2 == 0 { digit * 2 } else { digit };
            product / 10 + product % 10
        })
        .sum();
    (10 - sum % 10) % 10
}

#[cfg(test)]
mod tests {
    use super::*;

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
    const PUBLISHED: [&str; 27] = [
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
        "199901022385",
        "199906012381",
        "199912312395",
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
            assert_eq!(test_number(ymd(1990, 12, 31), woman), None);
            assert_eq!(test_number(ymd(1991, 1, 13), woman), None);
            assert_eq!(test_number(ymd(1992, 2, 19), woman), None);
            assert_eq!(test_number(ymd(1992, 12, 12), woman), None);
            assert_eq!(test_number(ymd(2000, 1, 1), woman), None);
        }
        assert_eq!(
            numbers_between(ymd(1900, 1, 1), ymd(1991, 1, 13), true).count(),
            0
        );
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
        // Spans A and B have two numbers per date, span C one (less the missing date).
        let both = (ymd(1992, 2, 18) - ymd(1991, 1, 14)).num_days()
            + 1
            + (ymd(1993, 12, 31) - ymd(1992, 12, 13)).num_days()
            + 1;
        let one = (ymd(1999, 12, 31) - ymd(1994, 1, 1)).num_days() + 1 - 1;
        assert_eq!(count, 2 * both + one);
    }

    #[test]
    fn broken_check_digit_is_not_a_test_number() {
        assert!(!is_test_number("199101142398"));
        assert!(!is_test_number("19910114-2397"));
        assert!(!is_test_number("9101142397"));
    }
}
