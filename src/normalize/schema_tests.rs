//! Tests of the shared schema: docs/schema.md describes every column.
use super::*;

/// docs/schema.md is the public description of this file: every table and column
/// must appear there.
#[test]
fn docs_schema_lists_every_column() {
    let doc = std::fs::read_to_string("docs/schema.md").expect("docs/schema.md");
    for t in TABLES {
        assert!(
            doc.contains(&format!("`{}`", t.name)),
            "docs/schema.md does not describe table {}",
            t.name
        );
        for f in t.table_schema().fields() {
            assert!(
                doc.contains(&format!("`{}`", f.name())),
                "docs/schema.md does not describe {}.{}",
                t.name,
                f.name()
            );
        }
    }
    for f in quarantine_schema().fields() {
        assert!(
            doc.contains(&format!("`{}`", f.name())),
            "docs/schema.md does not describe quarantine.{}",
            f.name()
        );
    }
}

#[test]
fn aggregate_value_field_expands_to_four_columns() {
    let s = table("aggregat").expect("aggregat").file_schema();
    for c in ["varde", "varde_token", "status", "ovre_grans"] {
        assert!(s.index_of(c).is_ok(), "{c}");
    }
    assert!(table("kaa").expect("kaa").field("personnummer").is_some());
    assert!(
        table("aggregat")
            .expect("aggregat")
            .field("reference_date")
            .is_none()
    );
}
