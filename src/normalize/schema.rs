//! THE shared schema: the canonical tables every pipeline feeds.
//!
//! This file is the single source of truth for table names, field names, types and
//! allowed category values; `docs/schema.md` documents it column by column for analysts
//! and dashboards, and a test checks that the two agree. Changing anything here is a
//! breaking change for everyone who reads the lake.
//!
//! Every table is partitioned by `kommun` (4-digit code) and `period` (`YYYY-MM`, or
//! `YYYY` for yearly sources); those two columns come from the Hive-style directory
//! names, not from the Parquet files.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

// The category codes are part of the schema; they live in their own file.
pub use super::codes::*;

/// How a canonical field is typed and parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Free text (trimmed; empty is null).
    Text,
    /// One of a fixed set of codes (after the pipeline's value map).
    Category(&'static [&'static str]),
    /// A 4-digit kommun code, validated against the 290 kommuner.
    Kommun,
    /// `YYYY-MM` (also read from `YYYYMM`, `YYYY-MM-DD`, `2015M05`, `maj 2015`) or `YYYY`.
    Period,
    /// A calendar date (`YYYY-MM-DD`, `YYYYMMDD`, Excel date cells, or the field's `date_format`).
    Date,
    /// A number with the pipeline's decimal and thousands separators.
    Number,
    /// Yes/no (`Ja/Nej`, `J/N`, `true/false`, `1/0`, `X`/empty).
    Bool,
    /// An identity number: validated, then replaced by `person_id`, `alder` and `kon`.
    Personnummer,
    /// Another identifier of the person (a provider's customer id, a case number),
    /// pseudonymized into `person_id` in the domain of the mapping's `kind`, so that it
    /// never shares a pseudonym with a personnummer or with an id of another kind.
    PersonKey,
    /// A birth year: gives `alder` where the person key is not a personnummer.
    BirthYear,
    /// `K` or `M`: gives `kon` where the person key is not a personnummer.
    Kon,
    /// A count or value cell that may carry a suppression token (`<5`, `..`, `X`): becomes
    /// `varde`, `varde_token`, `status` and `ovre_grans`.
    Value,
}

impl FieldType {
    /// Whether the field folds into the person columns (`person_id`, `alder`, `kon`)
    /// instead of being a column of its own.
    pub fn is_person(self) -> bool {
        matches!(
            self,
            FieldType::Personnummer | FieldType::PersonKey | FieldType::BirthYear | FieldType::Kon
        )
    }

    /// The codes a categorical field takes (after the value map).
    pub fn allowed(self) -> Option<&'static [&'static str]> {
        match self {
            FieldType::Category(allowed) => Some(allowed),
            FieldType::Kon => Some(PERSON_KON),
            _ => None,
        }
    }
}

/// One canonical field a pipeline can map.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    /// Field name used in pipeline files (`fields.<name>`).
    pub name: &'static str,
    /// Type and parsing.
    pub ty: FieldType,
    /// Whether every row must have a value.
    pub required: bool,
    /// One-line meaning (shown by `check` and in docs/schema.md).
    pub doc: &'static str,
}

/// Record-level register (keyed by person) or aggregate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// One row per person (and event) with a pseudonymized key.
    Record,
    /// Counts delivered by an agency.
    Aggregate,
}

/// A canonical table.
#[derive(Debug)]
pub struct TableDef {
    /// Table name in the lake and in SQL.
    pub name: &'static str,
    /// Record or aggregate.
    pub kind: TableKind,
    /// What the table holds.
    pub doc: &'static str,
    /// Fields a pipeline maps (besides `kommun` and `period`, which every table has).
    pub fields: &'static [FieldDef],
}

const fn f(name: &'static str, ty: FieldType, required: bool, doc: &'static str) -> FieldDef {
    FieldDef {
        name,
        ty,
        required,
        doc,
    }
}

/// Partition fields shared by every table.
pub const PARTITION_FIELDS: &[FieldDef] = &[
    f(
        "kommun",
        FieldType::Kommun,
        true,
        "4-digit kommun code (SCB), e.g. 0880 Kalmar",
    ),
    f(
        "period",
        FieldType::Period,
        true,
        "reporting period: YYYY-MM for monthly sources, YYYY for yearly ones",
    ),
];

/// Optional on every record table: the date ages are computed at (default: last day of the period).
pub const REFERENCE_DATE: FieldDef = f(
    "reference_date",
    FieldType::Date,
    false,
    "date ages are computed at; default the last day of the period",
);

/// The canonical tables.
pub static TABLES: &[TableDef] = &[
    TableDef {
        name: "kaa",
        kind: TableKind::Record,
        doc: "Kommunernas aktivitetsansvar: youths 16–20 not in or without a completed national upper-secondary programme",
        fields: &[
            f(
                "personnummer",
                FieldType::Personnummer,
                true,
                "identity number; replaced by person_id, alder, kon",
            ),
            f(
                "registreringsdatum",
                FieldType::Date,
                false,
                "date of registration in the KAA register",
            ),
            f(
                "registreringsorsak",
                FieldType::Category(KAA_ORSAK),
                false,
                "reason for registration",
            ),
            f(
                "aktivitet",
                FieldType::Category(KAA_AKTIVITET),
                true,
                "current activity; ingen/okand count in the målgrupp",
            ),
            f(
                "planerad_avregistrering",
                FieldType::Bool,
                false,
                "a plan exists to deregister the youth soon",
            ),
            f(
                "atgard",
                FieldType::Text,
                false,
                "measure (åtgärd) taken by the kommun",
            ),
        ],
    },
    TableDef {
        name: "forsorjningsstod",
        kind: TableKind::Record,
        doc: "Försörjningsstöd (ekonomiskt bistånd) recipients, one row per payment or case row in the month",
        fields: &[
            f(
                "personnummer",
                FieldType::Personnummer,
                true,
                "identity number; replaced by person_id, alder, kon",
            ),
            f(
                "orsak",
                FieldType::Category(FS_ORSAK),
                true,
                "reason code (försörjningshinder)",
            ),
            f(
                "delorsak",
                FieldType::Category(FS_DELORSAK),
                false,
                "sub-reason for arbetslöshet",
            ),
            f(
                "inskriven_af",
                FieldType::Bool,
                false,
                "registered at Arbetsförmedlingen",
            ),
            f(
                "utbildning",
                FieldType::Category(UTBILDNING),
                false,
                "education level",
            ),
            f(
                "funktionsnedsattning",
                FieldType::Category(FUNKTIONSNEDSATTNING),
                false,
                "disability (fysisk_psykisk = both)",
            ),
            f(
                "fodelseland",
                FieldType::Category(FODELSELAND),
                false,
                "born in Sweden (inrikes) or abroad (utrikes)",
            ),
            f(
                "belopp",
                FieldType::Number,
                false,
                "amount paid in the month, kronor",
            ),
        ],
    },
    TableDef {
        name: "timanstallda",
        kind: TableKind::Record,
        doc: "Hourly employees of the kommun's administrations (undersysselsatta)",
        fields: &[
            f(
                "personnummer",
                FieldType::Personnummer,
                true,
                "identity number; replaced by person_id, alder, kon",
            ),
            f(
                "forvaltning",
                FieldType::Text,
                true,
                "administration or area (förvaltning)",
            ),
            f("befattning", FieldType::Text, false, "job title"),
            f(
                "anstallningsform",
                FieldType::Text,
                false,
                "form of employment",
            ),
            f(
                "timmar",
                FieldType::Number,
                false,
                "hours worked in the month",
            ),
        ],
    },
    TableDef {
        name: "deltagare",
        kind: TableKind::Record,
        doc: "Participants in labour-market programmes (insatser): one row per person and participation",
        fields: &[
            f(
                "personnummer",
                FieldType::Personnummer,
                false,
                "identity number; replaced by person_id, alder, kon (map this or personnyckel)",
            ),
            f(
                "personnyckel",
                FieldType::PersonKey,
                false,
                "another identifier of the person (customer id, case number) where the register has no personnummer; needs kind; replaced by person_id",
            ),
            f(
                "fodelsear",
                FieldType::BirthYear,
                false,
                "birth year, with personnyckel; gives alder (unknown without it)",
            ),
            f(
                "kon",
                FieldType::Kon,
                false,
                "K or M, with personnyckel; gives kon (unknown without it)",
            ),
            f(
                "insats",
                FieldType::Text,
                true,
                "the programme (insats), e.g. Praktik",
            ),
            f("anordnare", FieldType::Text, false, "provider (anordnare)"),
            f(
                "startdatum",
                FieldType::Date,
                true,
                "first day of the participation",
            ),
            f(
                "slutdatum",
                FieldType::Date,
                false,
                "last day; empty while ongoing",
            ),
            f(
                "avslutskod",
                FieldType::Category(AVSLUTSKOD),
                false,
                "exit code (annan_insats = moved on to another insats)",
            ),
            f(
                "uppfoljning",
                FieldType::Category(UPPFOLJNING),
                false,
                "status at the six-month follow-up; empty when not followed up",
            ),
        ],
    },
    TableDef {
        name: "aggregat",
        kind: TableKind::Aggregate,
        doc: "Counts delivered by agencies (Arbetsförmedlingen now; SCB and Kolada later)",
        fields: &[
            f("kalla", FieldType::Text, true, "source: af, scb, kolada …"),
            f(
                "matt",
                FieldType::Text,
                true,
                "measure id, e.g. af_inskrivna (docs/figures.md)",
            ),
            f("kon", FieldType::Category(KON), true, "K, M or T (both)"),
            f(
                "alder",
                FieldType::Text,
                true,
                "age band such as 16-24, or a single age",
            ),
            f(
                "dimension",
                FieldType::Text,
                false,
                "breakdown dimension; 'total' (the default) for totals",
            ),
            f(
                "kategori",
                FieldType::Text,
                false,
                "category within the dimension; 'total' (the default) for totals",
            ),
            f(
                "varde",
                FieldType::Value,
                true,
                "the count or value; suppressed cells are null with their token",
            ),
            f(
                "enhet",
                FieldType::Text,
                false,
                "unit: antal (default) or procent",
            ),
        ],
    },
];

/// Looks a table up by name.
pub fn table(name: &str) -> Option<&'static TableDef> {
    TABLES.iter().find(|t| t.name == name)
}

impl TableDef {
    /// A mappable field by name (partition fields and `reference_date` included).
    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        PARTITION_FIELDS
            .iter()
            .chain(self.fields.iter())
            .chain((self.kind == TableKind::Record).then_some(&REFERENCE_DATE))
            .find(|f| f.name == name)
    }

    /// Whether a pipeline may key the table's persons by something other than a
    /// personnummer (`personnyckel`). Tables whose views count persons across registers
    /// (KAA with försörjningsstöd) need the personnummer that links them.
    pub fn accepts_person_key(&self) -> bool {
        self.fields.iter().any(|f| f.ty == FieldType::PersonKey)
    }

    /// Every mappable field, partition fields first.
    pub fn all_fields(&self) -> Vec<&'static FieldDef> {
        let mut v: Vec<&'static FieldDef> = PARTITION_FIELDS.iter().collect();
        v.extend(self.fields.iter());
        if self.kind == TableKind::Record {
            v.push(&REFERENCE_DATE);
        }
        v
    }

    /// Arrow schema of the Parquet files (partition columns excluded).
    pub fn file_schema(&self) -> SchemaRef {
        let mut cols = Vec::new();
        if self.kind == TableKind::Record {
            // A register keyed by something else than a personnummer may not know them.
            let unknown_person = self.accepts_person_key();
            cols.push(Field::new("person_id", DataType::Utf8, false));
            cols.push(Field::new("reference_date", DataType::Date32, false));
            cols.push(Field::new("alder", DataType::Int32, unknown_person));
            cols.push(Field::new("kon", DataType::Utf8, unknown_person));
        }
        for fd in self.fields {
            match fd.ty {
                ty if ty.is_person() => {}
                FieldType::Value => {
                    cols.push(Field::new("varde", DataType::Float64, true));
                    cols.push(Field::new("varde_token", DataType::Utf8, true));
                    cols.push(Field::new("status", DataType::Utf8, false));
                    cols.push(Field::new("ovre_grans", DataType::Float64, true));
                }
                _ => cols.push(Field::new(
                    fd.name,
                    arrow_type(fd.ty),
                    !fd.required || defaulted(fd.name),
                )),
            }
        }
        cols.push(Field::new("extract_id", DataType::Utf8, false));
        Arc::new(Schema::new(cols))
    }

    /// Schema seen in SQL: the file schema plus the partition columns.
    pub fn table_schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self
            .file_schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.extend(partition_columns());
        Arc::new(Schema::new(fields))
    }
}

/// Fields that always get a value because the mapping supplies a default.
fn defaulted(name: &str) -> bool {
    matches!(name, "dimension" | "kategori" | "enhet")
}

/// The Hive partition columns, in directory order.
pub fn partition_columns() -> Vec<Field> {
    vec![
        Field::new("kommun", DataType::Utf8, false),
        Field::new("period", DataType::Utf8, false),
    ]
}

fn arrow_type(ty: FieldType) -> DataType {
    match ty {
        FieldType::Date => DataType::Date32,
        FieldType::Number => DataType::Float64,
        FieldType::Bool => DataType::Boolean,
        _ => DataType::Utf8,
    }
}

/// Schema of the quarantine table (partitioned by `pipeline`).
pub fn quarantine_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("file", DataType::Utf8, false),
        Field::new("row", DataType::Int64, false),
        Field::new("column", DataType::Utf8, true),
        Field::new("value", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("extract_id", DataType::Utf8, false),
    ]))
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
