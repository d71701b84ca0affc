//! Identity numbers in running text: [`scrub`] masks them, [`contains_valid_personnummer`]
//! and [`is_identity_number`] find them, [`spellings`] lists the ways they are written.
//!
//! A candidate is anything of the shape of a number in any of those spellings; it
//! counts only with a valid date and check digit (see [`super::Personnummer::parse`]),
//! so figures, dates and periods are left alone.

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;

use super::{Personnummer, PnrError, mask};

/// What people put between the parts of an identity number: hyphen and plus, the
/// Unicode hyphens, dashes and minus signs (U+2010–U+2015, U+2212, U+FE58, U+FE63,
/// U+FF0D), slash, dot, colon, underscore and space.
const SEPARATOR: &str = r"[-+\x{2010}-\x{2015}\x{2212}\x{FE58}\x{FE63}\x{FF0D}/._: ]";

/// The shape of an identity number in running text, standing apart at `boundary`:
/// an optional century, year, month and day (each pair optionally separated), up to
/// three spaces, an optional separator, up to three spaces, and four digits. Groups: 1
/// the text before, 2 the date part, 3 the separator run, 4 the last four digits, 5 the
/// text after.
fn shape(boundary: &str) -> Regex {
    let pattern = format!(
        r"(^|{boundary})((?:18|19|20)?[0-9]{{2}}{s}?[0-9]{{2}}{s}?[0-9]{{2}})(\s{{0,3}}{s}?\s{{0,3}})([0-9]{{4}})($|{boundary})",
        s = SEPARATOR
    );
    Regex::new(&pattern).expect("static regex")
}

static PNR_LIKE: LazyLock<Regex> = LazyLock::new(|| shape("[^0-9]"));

/// Replaces everything in `text` that looks like an identity number, in any of the
/// spellings of [`spellings`], by its masked form. Used on every value that is shown to
/// a person or logged (quarantine, free-text fields, errors, what clients send).
pub fn scrub(text: &str) -> String {
    if !text.bytes().any(|b| b.is_ascii_digit()) {
        return text.to_string();
    }
    // Loop because the regex consumes the delimiter between two adjacent numbers.
    let mut out = text.to_string();
    loop {
        let next = PNR_LIKE
            .replace_all(&out, |c: &regex::Captures<'_>| {
                format!("{}{}{}", &c[1], mask(&c[2]), &c[5])
            })
            .into_owned();
        if next == out {
            return out;
        }
        out = next;
    }
}

/// The identity number in a candidate of [`shape`], without separators (a `+` kept:
/// it carries the century), if its date and check digit are valid.
fn valid_candidate(c: &regex::Captures<'_>) -> bool {
    let date: String = c[2].chars().filter(char::is_ascii_digit).collect();
    let plus = if c[3].contains('+') { "+" } else { "" };
    let far_future = NaiveDate::from_ymd_opt(2100, 1, 1).expect("valid date");
    // An improbable age is still an identity number to mask.
    matches!(
        Personnummer::parse(&format!("{date}{plus}{}", &c[4]), far_future),
        Ok(_) | Err(PnrError::ImprobableAge(_))
    )
}

/// True when `text` contains something shaped like an identity number, in any spelling
/// [`scrub`] masks, with a valid date and check digit (used by the tests that scan
/// everything a run writes). A candidate must stand apart from letters and digits:
/// inside a hex pseudonym a run of ten decimal digits with a valid date and check digit
/// occurs by chance and is not a number.
pub fn contains_valid_personnummer(text: &str) -> bool {
    static CANDIDATE: LazyLock<Regex> = LazyLock::new(|| shape("[^0-9A-Za-z]"));
    // A match consumes the character after it, which may be the boundary before the
    // next candidate: search on from the end of the digits.
    let mut from = 0;
    while let Some(c) = CANDIDATE.captures_at(text, from) {
        if valid_candidate(&c) {
            return true;
        }
        from = c.get(4).map_or(text.len(), |m| m.end());
    }
    false
}

/// True when the whole of `text` (trimmed) is an identity number in one of the
/// spellings [`scrub`] masks, with a valid date and check digit: such a value in a
/// number field is an identity number in the wrong column, not a figure.
pub fn is_identity_number(text: &str) -> bool {
    let t = text.trim();
    PNR_LIKE
        .captures(t)
        .is_some_and(|c| c[1].is_empty() && c[5].is_empty() && valid_candidate(&c))
}

/// The ways an identity number is written in extracts and typed by people, for the
/// twelve digits `number`: the forms [`scrub`] must mask and
/// [`contains_valid_personnummer`] must find. The tests of both use this one list.
pub fn spellings(number: &str) -> Vec<String> {
    let (cc, yy, mm, dd, last) = (
        &number[0..2],
        &number[2..4],
        &number[4..6],
        &number[6..8],
        &number[8..12],
    );
    let short = format!("{yy}{mm}{dd}");
    let long = format!("{cc}{short}");
    vec![
        format!("{long}{last}"),
        format!("{short}{last}"),
        format!("{short}-{last}"),
        format!("{long}-{last}"),
        format!("{short}+{last}"),
        format!("{long} - {last}"),
        format!("{short} -{last}"),
        format!("{short}- {last}"),
        format!("{short} {last}"),
        format!("{long} {last}"),
        format!("{short}\u{2013}{last}"),
        format!("{long}\u{2014}{last}"),
        format!("{short}\u{2212}{last}"),
        format!("{short}\u{2011}{last}"),
        format!("{short} \u{2013} {last}"),
        format!("{cc}{yy}-{mm}-{dd}-{last}"),
        format!("{yy}-{mm}-{dd}-{last}"),
        format!("{cc}{yy}-{mm}-{dd} {last}"),
        format!("{cc}{yy} {mm} {dd} {last}"),
        format!("{cc}{yy}.{mm}.{dd}-{last}"),
        format!("{short}/{last}"),
        format!("{long}/{last}"),
        format!("{short}.{last}"),
        format!("{short}_{last}"),
        format!("{short}:{last}"),
        format!("{short}\u{a0}{last}"),
        format!("{yy}{mm}{dd}\u{a0}-\u{a0}{last}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    // Skatteverket's published test numbers (never assigned to real people).
    const MAN: &str = "199401012399";
    const WOMAN: &str = "199401022380";

    #[test]
    fn masking_keeps_six_digits() {
        assert_eq!(mask("19940101-2399"), "199401******");
        let s = scrub("row 3: '940101-2399' and 199401022380; amount 4312,50; 2015-05");
        assert!(!s.contains("2399") && !s.contains("2380"), "{s}");
        assert!(
            s.contains("940101******") && s.contains("199401******"),
            "{s}"
        );
        assert!(s.contains("4312,50") && s.contains("2015-05"));
        assert!(contains_valid_personnummer("x 199401012399 y"));
        assert!(!contains_valid_personnummer("x 199401012398 y"));
        assert!(!contains_valid_personnummer(&scrub("x 199401012399 y")));
    }

    #[test]
    fn every_spelling_is_masked_and_found() {
        let numbers = ["199410212386", MAN, WOMAN];
        assert!(spellings(MAN).len() >= 20);
        for number in numbers {
            for spelled in spellings(number) {
                for text in [
                    spelled.clone(),
                    format!("delete from t where person='{spelled}'"),
                    format!("befattning: vikarie ({spelled}), 4312,50 kr"),
                ] {
                    assert!(contains_valid_personnummer(&text), "not found: {text}");
                    let scrubbed = scrub(&text);
                    assert!(
                        !contains_valid_personnummer(&scrubbed),
                        "{text} → {scrubbed}"
                    );
                    assert!(!scrubbed.contains(&number[8..]), "{text} → {scrubbed}");
                }
                assert!(is_identity_number(&spelled), "{spelled}");
            }
        }
        // A number after an invalid neighbour is still found.
        assert!(contains_valid_personnummer("1234567890 199401012399"));
        // Figures, dates and periods are left alone.
        for text in [
            "4 312,50",
            "2015-05",
            "2015-05-31",
            "1 994 102 123",
            "12:34:56",
        ] {
            assert_eq!(scrub(text), text);
            assert!(!is_identity_number(text), "{text}");
        }
        assert!(!is_identity_number("199410212385"), "wrong check digit");
        assert!(
            !is_identity_number("antal 199410212386"),
            "not the whole value"
        );
    }
}
