//! Pipeline files as written by users (`pipelines/<name>.toml`), before validation.
//!
//! Unknown keys are errors everywhere. Outside `[source]` they are collected while the
//! file is read (`serde_ignored`) and reported with the file's other problems; inside
//! `[source]`, a tagged enum, `deny_unknown_fields` stops the reading. `pipelines/README.md`
//! is the reference page for these fields; keep the two in step. Validation into
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
    /// Where the extract comes from.
    pub source: RawSource,
    /// How the bytes are decoded into rows.
    pub format: RawFormat,
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

/// `[source]`
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum RawSource {
    /// Local files.
    File {
        /// A path or glob (`*`, `?`, `[..]`), relative to the working directory.
        path: String,
    },
    /// An http(s) URL fetched with the shared client.
    Http {
        /// The URL.
        url: String,
        /// Per-request timeout in seconds (default 60).
        timeout_secs: Option<u64>,
        /// Retries after a transient failure (timeout, 5xx, 429), with exponential backoff (default 3).
        retries: Option<u32>,
        /// Request headers. Secret values must come from environment variables.
        #[serde(default)]
        headers: BTreeMap<String, RawHeader>,
    },
    /// SCB's PxWeb API returning JSON-stat 2.0 (use with `format.type = "jsonstat"`).
    Pxweb {
        /// `v1` (POST a query to the table URL) or `v2` (PxWebApi 2.0).
        api: String,
        /// v1: the table URL (`…/OV0104/v1/doris/sv/ssd/BE/BE0101/BE0101A/BefolkningNy`);
        /// v2: the API base (`https://statistikdatabasen.scb.se/api/v2`).
        url: String,
        /// v2: the table id, e.g. `TAB638`.
        table: Option<String>,
        /// v2: language, default `sv`.
        lang: Option<String>,
        /// Variable code → value codes, e.g. `Region = ["0880"]`. Large selections are split
        /// into requests under the server's cell limit (read from its config endpoint).
        selection: BTreeMap<String, Vec<String>>,
        /// Overrides the server's cell limit per request.
        max_cells: Option<usize>,
        /// Per-request timeout in seconds (default 60).
        timeout_secs: Option<u64>,
        /// Retries after transient failures (default 3).
        retries: Option<u32>,
    },
    /// Kolada's KPI API (v3, or v2 by its base URL), paged, ids chunked by 25.
    Kolada {
        /// API base (default `https://api.kolada.se/v3`).
        url: Option<String>,
        /// KPIs with their expected titles.
        kpis: Vec<RawKpi>,
        /// Kommun codes.
        municipalities: Vec<String>,
        /// Years.
        years: Vec<String>,
        /// Check every KPI's title against Kolada before fetching (default true).
        verify_titles: Option<bool>,
        /// Per-request timeout in seconds (default 60).
        timeout_secs: Option<u64>,
        /// Retries after transient failures (default 3).
        retries: Option<u32>,
    },
}

/// `kpis = [{ id = "N15428", title = "…" }]` of a Kolada source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKpi {
    /// Kolada's KPI id.
    pub id: String,
    /// The KPI's title as Kolada states it; checked at run time so that a reused or
    /// mistyped id fails instead of loading another KPI.
    pub title: String,
}

/// A request header value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    /// A literal value (refused for headers that carry credentials).
    pub value: Option<String>,
    /// Name of an environment variable holding the value.
    pub env: Option<String>,
    /// Text put before the environment value, e.g. `"Bearer "`.
    pub prefix: Option<String>,
}

/// `[format]`
#[derive(Debug, Deserialize)]
pub struct RawFormat {
    /// `csv`, `xlsx` or `jsonstat` (JSON-stat 2.0, e.g. SCB PxWeb `json-stat2`).
    #[serde(rename = "type")]
    pub kind: String,
    /// CSV: field delimiter, one character (default `;`).
    pub delimiter: Option<String>,
    /// CSV: `utf-8` (default; a byte-order mark is skipped) or `windows-1252` (any WHATWG label).
    pub encoding: Option<String>,
    /// xlsx: sheet name (default: the first sheet).
    pub sheet: Option<String>,
    /// 1-based row number(s) of the header; several rows (merged header cells) are joined
    /// with a space. Rows above the header are the preamble. Default 1.
    pub header_rows: Option<HeaderRows>,
    /// Rows to drop at the end of the data (e.g. a trailing total row). Default 0.
    pub skip_trailing_rows: Option<usize>,
    /// What each row `skip_trailing_rows` drops must look like: a regular expression
    /// matched against the row's cells joined with `;` (e.g. `^Totalt;`). A named group
    /// `rows` is a row count the trailer declares, checked against the data rows read.
    pub trailing_row_matches: Option<String>,
    /// Drop data rows whose column matches a regular expression (e.g. notes, total rows).
    #[serde(default)]
    pub drop_rows_where: Vec<RawRowFilter>,
    /// Decimal separator, `,` (default) or `.`.
    pub decimal: Option<String>,
    /// Thousands separators (default: space, non-breaking space, narrow non-breaking space).
    pub thousands: Option<Vec<String>>,
}

/// One header row or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum HeaderRows {
    /// A single header row.
    One(usize),
    /// Several header rows, joined.
    Many(Vec<usize>),
}

/// `[[format.drop_rows_where]]`
#[derive(Debug, Deserialize)]
pub struct RawRowFilter {
    /// Source column to test.
    pub column: String,
    /// Regular expression; a matching row is dropped (not quarantined).
    pub matches: String,
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
