//! Pipeline files as written by users (`pipelines/<name>.toml`), before validation.
//!
//! Unknown keys are errors everywhere. Outside `[source]` they are collected while the
//! file is read (`serde_ignored`) and reported with the file's other problems; inside
//! `[source]`, a tagged enum, `deny_unknown_fields` stops the reading. The keys of
//! `[source]` and `[format]` are declared by their owners (`source::RawSource` and each
//! transport's file, `format::RawFormat`). `pipelines/README.md` is the reference page for
//! these fields; keep the two in step. Validation into
//! [`super::pipeline::Pipeline`] collects every problem of a file instead of stopping at
//! the first.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One pipeline file.
#[derive(Debug, Deserialize)]
pub struct RawPipeline {
    /// Free text shown by `check` and in run summaries.
    pub description: Option<String>,
    /// Canonical table fed by this pipeline: `kaa`, `forsorjningsstod`, `timanstallda` or `aggregat`.
    pub target: String,
    /// Where the extract comes from (each transport's keys are in its `source::<name>`).
    pub source: crate::source::RawSource,
    /// How the bytes are decoded into rows (keys in `format::options`).
    pub format: crate::format::RawFormat,
    /// Optional: turn several value columns into rows (e.g. one column per kön).
    pub unpivot: Option<RawUnpivot>,
    /// Canonical field → how to get its value. A plain string names a source column.
    pub fields: BTreeMap<String, toml::Value>,
    /// Largest share (0–1) of rows that may be quarantined before the run fails and
    /// nothing is published. Default 0.05.
    pub max_quarantined_share: Option<f64>,
    /// When `malgrupp serve` runs it (cron + time zone); without it, only on demand.
    pub schedule: Option<super::operations::RawSchedule>,
    /// Whole-run retries after transient failures.
    pub retry: Option<super::operations::RawRetry>,
    /// When each period's data is due, for `malgrupp status`.
    pub freshness: Option<super::operations::RawFreshness>,
    /// Quality gates checked before publishing.
    pub checks: Option<super::operations::RawChecks>,
}

/// `[unpivot]`
#[derive(Debug, Deserialize)]
pub struct RawUnpivot {
    /// The value columns to turn into rows.
    pub columns: Vec<String>,
    /// Name of the new column holding the former column header.
    pub name_column: String,
    /// Name of the new column holding the cell value.
    pub value_column: String,
}

/// `fields.<name> = { … }`: exactly one of `column`, `constant`, `file_name`, `cell`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFieldSpec {
    /// Source column (header text after joining header rows).
    pub column: Option<String>,
    /// A fixed value for every row.
    pub constant: Option<String>,
    /// A regular expression applied to the extract's file name; use `template` to build the value.
    pub file_name: Option<String>,
    /// A cell of the preamble or sheet, e.g. `A1`.
    pub cell: Option<String>,
    /// Regular expression applied to the value; with `template` its captures build the value,
    /// without it the first capture group (or the whole match) is the value.
    pub pattern: Option<String>,
    /// Template with `$1`, `${name}` references to the captures of `pattern`/`file_name`.
    pub template: Option<String>,
    /// Maps source values (trimmed, case-insensitive) to canonical values; an unmapped
    /// non-empty value quarantines the row.
    pub values: Option<BTreeMap<String, String>>,
    /// Value used when the source cell is empty.
    pub default: Option<String>,
    /// chrono format for dates that are not ISO, e.g. `%d/%m/%Y`.
    pub date_format: Option<String>,
    /// Dates: how many days after the run's day a date may lie (default 0: a date in the
    /// future is quarantined, as a wrong column or format more often than a plan).
    pub max_days_ahead: Option<u32>,
    /// `personnyckel`: what the identifier is, e.g. `kund_id/jobbverket`; the domain of
    /// its pseudonyms (name the issuer when ids are unique only within it).
    pub kind: Option<String>,
}
