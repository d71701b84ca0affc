//! Swedish personnummer and samordningsnummer: validation, derived age and kön, masking.
//!
//! This is the only place that understands identity numbers. The raw number lives only
//! inside [`Personnummer`] between parsing and pseudonymization
//! ([`crate::normalize::pseudonym`]); anything shown to a person goes through [`mask`]
//! or [`scrub`], which keep at most the first six digits (the birth date), as the
//! product's rules allow in quarantine and error messages.
//!
//! Accepted forms: `YYMMDD-NNNC`, `YYMMDD+NNNC` (100 years or older), `YYMMDDNNNC`,
//! `YYYYMMDDNNNC` and `YYYYMMDD-NNNC`. A samordningsnummer has 60 added to the day.
//! The century of a 10-digit number is resolved against the record's reference date,
//! not today, so that old extracts are read as they were meant.
//!
//! This file owns one number: parsing and validating it, its age and kön, [`mask`].
//! Finding numbers in running text, in every spelling people use, is `text`'s.

mod text;

pub use text::{contains_valid_personnummer, is_identity_number, scrub, spellings};

use std::fmt;

use chrono::{Datelike, NaiveDate};

/// A validated identity number.
#[derive(Clone, PartialEq, Eq)]
pub struct Personnummer {
    twelve: String,
    birth_date: NaiveDate,
    samordning: bool,
    woman: bool,
}

// Never print the number, not even in debug output.
impl fmt::Debug for Personnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Personnummer({})", mask(&self.twelve))
    }
}

/// Why a value is not a valid identity number. The messages never contain the number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PnrError {
    /// Not 10 or 12 digits with an optional `-` or `+`.
    #[error("expected a personnummer as YYMMDD-NNNC or YYYYMMDDNNNC")]
    Format,
    /// The birth date (day minus 60 for a samordningsnummer) is not a real date.
    #[error("the birth date is not a real date")]
    Date,
    /// Födelsenummer 000 is never assigned.
    #[error("födelsenummer 000 is never assigned")]
    Serial,
    /// The Luhn check digit does not match.
    #[error("the check digit does not match (Luhn)")]
    CheckDigit,
    /// The birth date lies after the reference date.
    #[error("the birth date lies after the record's reference date")]
    Future,
    /// A `+` (the person has turned 100) that makes the person older than anyone is
    /// likely to be in a register of young people: a `+` typed for `-`.
    #[error("the '+' makes the person {0} years old (over {MAX_PLUS_AGE}): was '-' meant?")]
    ImprobableAge(i32),
}

impl Personnummer {
    /// Validates `raw` for a record whose reference date is `reference`.
    pub fn parse(raw: &str, reference: NaiveDate) -> Result<Self, PnrError> {
        let s: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        let (digits, plus) = split_separator(&s)?;
        let (century, ten) = match digits.len() {
            12 if !plus => (Some(parse_num(&digits[0..2])?), &digits[2..]),
            10 => (None, &digits[..]),
            _ => return Err(PnrError::Format),
        };
        let yy = parse_num(&ten[0..2])?;
        let mm = parse_num(&ten[2..4])?;
        let raw_dd = parse_num(&ten[4..6])?;
        if &ten[6..9] == "000" {
            return Err(PnrError::Serial);
        }
        let (dd, samordning) = if raw_dd > 60 {
            (raw_dd - 60, true)
        } else {
            (raw_dd, false)
        };
        if luhn_check_digit(&ten[0..9]) != ten.as_bytes()[9] - b'0' {
            return Err(PnrError::CheckDigit);
        }
        let birth_date = match century {
            Some(c) => date(c * 100 + yy, mm, dd)?,
            None => resolve_century(yy, mm, dd, plus, reference)?,
        };
        if birth_date > reference {
            return Err(PnrError::Future);
        }
        if plus && age_at(birth_date, reference) > MAX_PLUS_AGE {
            return Err(PnrError::ImprobableAge(age_at(birth_date, reference)));
        }
        let twelve = format!("{:02}{}", birth_date.year() / 100, ten);
        let woman = (ten.as_bytes()[8] - b'0').is_multiple_of(2);
        Ok(Personnummer {
            twelve,
            birth_date,
            samordning,
            woman,
        })
    }

    /// The normalized 12-digit form (century included, no separator), the input of the pseudonym.
    pub fn normalized(&self) -> &str {
        &self.twelve
    }

    /// Birth date (for a samordningsnummer: with 60 taken off the day).
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// True for a samordningsnummer.
    pub fn is_samordningsnummer(&self) -> bool {
        self.samordning
    }

    /// Legal sex as recorded in the number: `"K"` when the second-to-last digit is even, else `"M"`.
    pub fn kon(&self) -> &'static str {
        if self.woman { "K" } else { "M" }
    }

    /// Age in completed years at `date`.
    pub fn age_at(&self, date: NaiveDate) -> i32 {
        age_at(self.birth_date, date)
    }
}

/// The oldest age a number written with `+` is taken for.
pub const MAX_PLUS_AGE: i32 = 105;

/// Completed years between `birth` and `date`.
pub fn age_at(birth: NaiveDate, date: NaiveDate) -> i32 {
    let mut age = date.year() - birth.year();
    if (date.month(), date.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

fn split_separator(s: &str) -> Result<(String, bool), PnrError> {
    let mut digits = String::with_capacity(12);
    let mut plus = false;
    for (i, c) in s.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            // The separator may only stand before the last four digits.
            '-' | '+' if i + 5 == s.len() && !digits.is_empty() => plus = c == '+',
            _ => return Err(PnrError::Format),
        }
    }
    Ok((digits, plus))
}

fn parse_num(s: &str) -> Result<i32, PnrError> {
    s.parse().map_err(|_| PnrError::Format)
}

fn date(y: i32, m: i32, d: i32) -> Result<NaiveDate, PnrError> {
    let (m, d) = (
        u32::try_from(m).map_err(|_| PnrError::Date)?,
        u32::try_from(d).map_err(|_| PnrError::Date)?,
    );
    NaiveDate::from_ymd_opt(y, m, d).ok_or(PnrError::Date)
}

/// The latest century that puts the birth date on or before the reference date; one
/// century earlier with `+` (the person had turned 100).
fn resolve_century(
    yy: i32,
    mm: i32,
    dd: i32,
    plus: bool,
    reference: NaiveDate,
) -> Result<NaiveDate, PnrError> {
    let mut year = reference.year() - (reference.year() - yy).rem_euclid(100);
    if date(year, mm, dd).is_ok_and(|born| born > reference) {
        year -= 100;
    }
    if plus {
        year -= 100;
    }
    date(year, mm, dd)
}

/// The Luhn (modulus 10, weights 2-1-2…) check digit of the nine digits YYMMDDNNN.
pub fn luhn_check_digit(nine: &str) -> u8 {
    let sum: u32 = nine
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0') * if i % 2 == 0 { 2 } else { 1 };
            d / 10 + d % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Shows at most the first six digits of something that may be an identity number.
pub fn mask(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).take(6).collect();
    format!("{digits}******")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("test date")
    }

    // Skatteverket's published test numbers (never assigned to real people).
    const MAN_1993: &str = "199305312390";
    const MAN: &str = "199401012399";
    const WOMAN: &str = "199401022380";

    #[test]
    fn valid_forms_agree() {
        let r = d(2015, 5, 31);
        let a = Personnummer::parse(MAN, r).expect("12 digits");
        let b = Personnummer::parse("940101-2399", r).expect("10 with dash");
        let c = Personnummer::parse("9401012399", r).expect("10 without separator");
        let e = Personnummer::parse("19940101-2399", r).expect("12 with dash");
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a, e);
        assert_eq!(a.normalized(), MAN);
        assert_eq!(a.kon(), "M");
        assert_eq!(a.age_at(r), 21);
        assert_eq!(Personnummer::parse(WOMAN, r).expect("woman").kon(), "K");
        assert_eq!(Personnummer::parse(MAN_1993, r).expect("valid").kon(), "M");
    }

    #[test]
    fn invalid_check_digit() {
        assert_eq!(
            Personnummer::parse("199401012398", d(2015, 5, 31)),
            Err(PnrError::CheckDigit)
        );
    }

    #[test]
    fn invalid_date() {
        // 1994-02-30 does not exist; the check digit is computed for it so only the date is wrong.
        let n = format!("940230239{}", luhn_check_digit("940230239"));
        assert_eq!(Personnummer::parse(&n, d(2015, 5, 31)), Err(PnrError::Date));
        let bad_month = format!("941301239{}", luhn_check_digit("941301239"));
        assert_eq!(
            Personnummer::parse(&bad_month, d(2015, 5, 31)),
            Err(PnrError::Date)
        );
    }

    #[test]
    fn samordningsnummer_day_plus_sixty() {
        let n = format!("940161239{}", luhn_check_digit("940161239"));
        let p = Personnummer::parse(&n, d(2015, 5, 31)).expect("samordningsnummer");
        assert!(p.is_samordningsnummer());
        assert_eq!(p.birth_date(), d(1994, 1, 1));
        assert_eq!(p.normalized(), format!("19{n}"));
        // Day 92 (= 32 + 60) is not a date.
        let bad = format!("940192239{}", luhn_check_digit("940192239"));
        assert_eq!(
            Personnummer::parse(&bad, d(2015, 5, 31)),
            Err(PnrError::Date)
        );
    }

    #[test]
    fn century_from_plus_and_reference() {
        let n = format!("150101238{}", luhn_check_digit("150101238"));
        let dash = format!("{}-{}", &n[..6], &n[6..]);
        let plus = format!("{}+{}", &n[..6], &n[6..]);
        // Before 2015-01-01 a '-' number ending in 15 means 1915.
        assert_eq!(
            Personnummer::parse(&dash, d(2014, 12, 31))
                .expect("dash")
                .birth_date()
                .year(),
            1915
        );
        assert_eq!(
            Personnummer::parse(&dash, d(2015, 5, 31))
                .expect("dash")
                .birth_date()
                .year(),
            2015
        );
        assert_eq!(
            Personnummer::parse(&plus, d(2015, 5, 31))
                .expect("plus")
                .birth_date()
                .year(),
            1915
        );
        // '+' is meaningless with the century written out.
        assert_eq!(
            Personnummer::parse(&format!("20{}+{}", &n[..6], &n[6..]), d(2015, 5, 31)),
            Err(PnrError::Format)
        );
    }

    #[test]
    fn a_plus_that_makes_someone_older_than_105_is_refused() {
        // Skatteverket's test number 941021-2386 with '+' would be born 1894.
        let may_2015 = NaiveDate::from_ymd_opt(2015, 5, 31).expect("date");
        let e = Personnummer::parse("941021+2386", may_2015).expect_err("improbable");
        assert_eq!(e, PnrError::ImprobableAge(120));
        assert!(Personnummer::parse("941021-2386", may_2015).is_ok());
        // Still masked wherever it is written.
        assert!(!scrub("id 941021+2386").contains("2386"));
    }
    #[test]
    fn format_errors() {
        for bad in [
            "",
            "abc",
            "94010-12399",
            "19940101239",
            "19940101239912",
            "9401012399-",
        ] {
            assert_eq!(
                Personnummer::parse(bad, d(2015, 5, 31)),
                Err(PnrError::Format),
                "{bad}"
            );
        }
        assert_eq!(
            Personnummer::parse(
                &format!("940101000{}", luhn_check_digit("940101000")),
                d(2015, 5, 31)
            ),
            Err(PnrError::Serial)
        );
    }

    #[test]
    fn future_birth_is_rejected() {
        assert_eq!(
            Personnummer::parse("199901022385", d(1998, 1, 1)),
            Err(PnrError::Future)
        );
    }
}
