//! The person of a record row: a personnummer, or another key of the person (a
//! provider's customer id) with the kön and birth year the register gives, turned into
//! the row's `person_id`, `alder` and `kon` cells. Configuration decides which fields a
//! pipeline maps (`config::pipeline`); this module decides what a row's values make.

use chrono::{Datelike, NaiveDate};

use super::Cell;
use super::error::Invalid;
use super::row::RowError;
use crate::normalize::personnummer::{self, Personnummer};
use crate::normalize::pseudonym::PseudonymKey;

/// What a row says about its person, collected while its fields are mapped.
#[derive(Default)]
pub(super) struct PersonFields<'a> {
    /// The personnummer's text and the column it came from.
    pub(super) personnummer: Option<(String, Option<String>)>,
    /// Another key: its text, column and kind (the domain of its pseudonyms).
    pub(super) key: Option<(String, Option<String>, &'a str)>,
    /// Birth year beside another key.
    pub(super) birth_year: Option<i32>,
    /// Kön (`K`/`M`) beside another key.
    pub(super) kon: Option<String>,
}

impl PersonFields<'_> {
    /// `person_id`, `alder` and `kon` of the row at `reference`. A personnummer gives all
    /// three; another key gives its pseudonym, and age and kön where the register has them.
    pub(super) fn cells(
        self,
        key: &PseudonymKey,
        reference: NaiveDate,
    ) -> Result<[Cell; 3], RowError> {
        match (self.personnummer, self.key) {
            (Some((text, column)), _) => {
                let pnr = Personnummer::parse(&text, reference).map_err(|e| RowError {
                    column: column.or(Some("personnummer".into())),
                    value: Some(personnummer::mask(&text)),
                    reason: format!("fields.personnummer: {e}"),
                })?;
                Ok([
                    Cell::Text(key.pseudonymize(&pnr)),
                    Cell::Int(pnr.age_at(reference)),
                    Cell::Text(pnr.kon().to_string()),
                ])
            }
            (None, Some((text, column, kind))) => {
                let id =
                    key_id(key, kind, &text, reference, self.birth_year).map_err(|e| RowError {
                        column: column.or(Some("personnyckel".into())),
                        value: Some(mask_key(&text)),
                        reason: e.to_string(),
                    })?;
                let age = self
                    .birth_year
                    .map_or(Cell::Null, |y| Cell::Int(reference.year() - y));
                Ok([id, age, self.kon.map_or(Cell::Null, Cell::Text)])
            }
            (None, None) => Err(RowError {
                column: None,
                value: None,
                reason: "fields.personnummer: a value is required".into(),
            }),
        }
    }
}

/// The pseudonym of a person key that is not a personnummer. A personnummer in the
/// column is refused: keyed as an id it would give the person a second pseudonym, and
/// the register should map it as `personnummer`.
fn key_id(
    key: &PseudonymKey,
    kind: &str,
    text: &str,
    reference: NaiveDate,
    birth_year: Option<i32>,
) -> Result<Cell, Invalid> {
    if personnummer::contains_valid_personnummer(text) {
        return Err(Invalid::KeyIsPersonnummer);
    }
    if text.chars().count() > MAX_KEY_CHARS {
        return Err(Invalid::KeyTooLong { max: MAX_KEY_CHARS });
    }
    if let Some(y) = birth_year
        && y > reference.year()
    {
        return Err(Invalid::BornAfter { year: y, reference });
    }
    Ok(Cell::Text(key.pseudonymize_key(kind, text)))
}

/// Identifiers longer than this are not ids but a wrong column (a name, a note).
const MAX_KEY_CHARS: usize = 64;

/// A person key as quarantine and errors may show it: its first two characters. It is
/// personal data like a personnummer, of which only the birth date may be shown.
pub fn mask_key(v: &str) -> String {
    let shown: String = v.chars().take(2).collect();
    format!("{shown}{}", "*".repeat(v.chars().count().saturating_sub(2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn a_customer_id_gives_its_pseudonym_and_the_age_and_kon_the_register_has() {
        let k = PseudonymKey::from_bytes([3; 32]);
        let person = PersonFields {
            key: Some(("K-1001".into(), Some("Kund-id".into()), "kund_id/a")),
            birth_year: Some(1990),
            kon: Some("K".into()),
            ..PersonFields::default()
        };
        let cells = person.cells(&k, d(2014, 12, 31)).ok().expect("valid");
        assert_eq!(
            cells,
            [
                Cell::Text(k.pseudonymize_key("kund_id/a", "K-1001")),
                Cell::Int(24),
                Cell::Text("K".into())
            ]
        );
        // Without kön and birth year both are unknown, not guessed.
        let bare = PersonFields {
            key: Some(("K-1001".into(), None, "kund_id/a")),
            ..PersonFields::default()
        };
        let cells = bare.cells(&k, d(2014, 12, 31)).ok().expect("valid");
        assert_eq!(cells[1..], [Cell::Null, Cell::Null]);
    }

    #[test]
    fn a_personnummer_or_a_future_birth_year_in_a_customer_id_row_is_refused() {
        let k = PseudonymKey::from_bytes([3; 32]);
        let refused = |text: &str, birth_year: Option<i32>| {
            let person = PersonFields {
                key: Some((text.into(), Some("Kund-id".into()), "kund_id/a")),
                birth_year,
                ..PersonFields::default()
            };
            match person.cells(&k, d(2014, 12, 31)) {
                Ok(_) => panic!("{text} accepted"),
                Err(e) => (e.value.unwrap_or_default(), e.reason),
            }
        };
        let (shown, reason) = refused("199401012399", None);
        assert_eq!(shown, "19**********");
        assert!(
            reason.contains("map the column as personnummer"),
            "{reason}"
        );
        let (_, reason) = refused("K-1001", Some(2015));
        assert!(reason.contains("fields.fodelsear"), "{reason}");
        let (_, reason) = refused(&"x".repeat(65), None);
        assert!(reason.contains("longer than 64"), "{reason}");
    }
}
