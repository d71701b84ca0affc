//! [`FormatError`]: why an extract cannot be decoded as a whole.
//!
//! The format layer knows neither the pipeline nor the file name, so its error says only
//! what is wrong with the bytes; `pipeline` wraps it into [`crate::Error::Data`] with
//! both. The text of every variant is the message operators and the run ledger see, so
//! it stays word for word what the readers have always said.

/// Why an extract cannot be decoded (a problem of the whole file, never of one row:
/// rows that cannot be trusted are marked for quarantine instead).
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The bytes are not valid in the configured encoding (or the one a BOM names).
    #[error("the file is not valid {encoding}{}{hint}", .line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    Encoding {
        /// The encoding used.
        encoding: &'static str,
        /// The line of the first invalid byte, where it is known.
        line: Option<usize>,
        /// A hint at the likely right one, or empty.
        hint: &'static str,
    },

    /// The last line has no line break while the others do: the transfer was cut off.
    #[error(
        "the file ends in the middle of a row: its last line has no line break, unlike the others (was the transfer cut off?): {last_line}"
    )]
    CutMidRow {
        /// The last line, quoted and scrubbed of identity numbers.
        last_line: String,
    },

    /// The file could not be read (the extract's bytes are read as they are decoded).
    #[error("could not read the file after row {row}: {source}")]
    Read {
        /// Records read before.
        row: usize,
        /// What reading said.
        source: std::io::Error,
    },

    /// The bytes are not an .xlsx workbook.
    #[error("not a readable .xlsx workbook: {0}")]
    Workbook(calamine::XlsxError),

    /// The configured sheet is not in the workbook.
    #[error("no sheet '{sheet}'; the workbook has {sheets}")]
    NoSuchSheet {
        /// The sheet asked for.
        sheet: String,
        /// The sheets there are, comma-separated.
        sheets: String,
    },

    /// The workbook has no sheet at all.
    #[error("the workbook has no sheets")]
    NoSheets,

    /// A sheet could not be read.
    #[error("sheet '{name}': {source}")]
    Sheet {
        /// The sheet.
        name: String,
        /// What the reader said.
        source: calamine::XlsxError,
    },

    /// A JSON format's bytes are not JSON.
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),

    /// The JSON is not a JSON-stat 2.0 dataset that can be read; the message says where.
    #[error("{0}")]
    JsonStat(String),

    /// The JSON is not a Kolada data page that can be read; the message says where.
    #[error("{0}")]
    Kolada(String),

    /// A format's own reason, in its own words or error type: a format added later
    /// reports through this without a variant here (`FormatError::Other(msg.into())`).
    #[error("{0}")]
    Other(Box<dyn std::error::Error + Send + Sync>),

    /// The file ends above the (last) header row.
    #[error("the file has no row {row}, where the header was expected")]
    NoHeaderRow {
        /// The last header row configured.
        row: usize,
    },

    /// One of the configured header rows is not in the file.
    #[error("header row(s) {rows:?} not found in the file")]
    HeaderRows {
        /// The header rows configured.
        rows: Vec<usize>,
    },

    /// `drop_rows_where` names a column the header does not have.
    #[error("drop_rows_where names column '{column}', which is not in the header ({header})")]
    FilterColumn {
        /// The column named.
        column: String,
        /// The header's columns, quoted.
        header: String,
    },

    /// A row where the trailer was expected is a row the reader could not trust (a stray
    /// quote ran to the end of the file and took the trailer with it).
    #[error("row {row} cannot be the trailing row skip_trailing_rows drops: {problem}")]
    TrailerSwallowed {
        /// The row.
        row: usize,
        /// Why the row cannot be trusted.
        problem: String,
    },

    /// The row where the trailer was expected does not look like one.
    #[error(
        "row {row} is where the trailing row was expected, but it does not match trailing_row_matches '{pattern}': {text} (was the file cut off?)"
    )]
    NotTrailer {
        /// The row.
        row: usize,
        /// `trailing_row_matches`.
        pattern: String,
        /// The row's cells joined by `;`, quoted.
        text: String,
    },

    /// The trailer's declared row count is not a number.
    #[error("row {row}: the trailer's row count {count} is not a whole number")]
    TrailerCount {
        /// The row.
        row: usize,
        /// The count as written, quoted.
        count: String,
    },

    /// The trailer declares another number of data rows than the file has.
    #[error(
        "row {row}: the trailer declares {declared} data rows, but the file has {found} (was the file cut off or rows lost?)"
    )]
    TrailerMismatch {
        /// The row.
        row: usize,
        /// The count the trailer declares.
        declared: usize,
        /// The data rows read.
        found: usize,
    },
}
