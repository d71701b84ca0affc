//! Which person fields a record pipeline maps: exactly one key (`personnummer`, or
//! `personnyckel` where the table accepts another identifier), and kön and birth year
//! only beside a `personnyckel`. What a row's values make of them is
//! `mapping::person`'s.

use super::pipeline::FieldMapping;
use crate::error::Problems;
use crate::normalize::schema::{self, TableDef, TableKind};

/// The domain of a person key's pseudonyms is this text: a small alphabet without NUL,
/// so that it cannot run into the value behind it.
pub(super) fn valid_key_kind(kind: &str) -> bool {
    (1..=64).contains(&kind.len())
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-./".contains(&b))
}

/// Why `key`, which is not a field of `target`, is a person field the table refuses.
pub(super) fn key_refused(target: &TableDef, key: &str) -> Option<String> {
    let person_field = schema::TABLES
        .iter()
        .flat_map(|t| t.fields)
        .any(|f| f.name == key && f.ty.is_person());
    (target.kind == TableKind::Record && person_field && !target.accepts_person_key()).then(|| {
        format!(
            "table {} needs a personnummer: its views count persons across registers (KAA with försörjningsstöd), and only the personnummer links a person between them; map personnummer (tables that accept another person key: deltagare)",
            target.name
        )
    })
}

/// A record register's person: exactly one of `personnummer` and `personnyckel`; kön and
/// birth year only beside a `personnyckel` (a personnummer carries both).
pub(super) fn validate(target: &TableDef, fields: &[FieldMapping], file: &str, p: &mut Problems) {
    let has = |name: &str| fields.iter().any(|m| m.field.name == name);
    match (has("personnummer"), has("personnyckel")) {
        (true, true) => p.push(
            file,
            "fields.personnyckel",
            "map either personnummer or personnyckel: a person has one key",
        ),
        // Where only a personnummer will do, the table requires it (reported above).
        (false, false) if target.accepts_person_key() => p.push(
            file,
            "fields.personnummer",
            "required: map the register's personnummer, or another identifier of the person as personnyckel",
        ),
        (false, false) => {}
        (true, false) => {
            for name in ["fodelsear", "kon"] {
                if has(name) {
                    p.push(
                        file,
                        format!("fields.{name}"),
                        "comes from the personnummer; map it only beside a personnyckel",
                    );
                }
            }
        }
        (false, true) => {}
    }
}
